//! The engine lock held by one SQL request. It reads like `Inner` (through `Deref`), and a
//! statement may give the lock up for a moment with [`Session::unlocked`] so that other
//! requests run in between: that is how an UPDATE reproduces the real server's lost
//! updates (PROTOCOL §11) on an engine that would otherwise serialise everything.

use super::{Engine, Inner};
use std::ops::{Deref, DerefMut};
use std::sync::MutexGuard;

pub struct Session<'a> {
    engine: &'a Engine,
    /// Always `Some` outside `unlocked`.
    guard: Option<MutexGuard<'a, Inner>>,
}

impl Engine {
    /// Locks the engine for one request.
    pub fn session(&self) -> Session<'_> {
        Session {
            engine: self,
            guard: Some(self.lock()),
        }
    }
}

impl Session<'_> {
    /// True when giving the lock up cannot expose half of this request's work: no
    /// transaction is open on the shared connection.
    pub fn may_unlock(&self) -> bool {
        !self.explicit_tx && self.conn.is_autocommit()
    }

    /// Runs `f` with the engine unlocked, then locks it again. Callers check
    /// [`Session::may_unlock`] first; anything read before may be stale afterwards.
    pub fn unlocked<T>(&mut self, f: impl FnOnce() -> T) -> T {
        debug_assert!(self.may_unlock(), "unlocking inside a transaction");
        drop(self.guard.take());
        let value = f();
        self.guard = Some(self.engine.lock());
        value
    }
}

impl Deref for Session<'_> {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        self.guard.as_deref().expect("the engine lock is held")
    }
}

impl DerefMut for Session<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        self.guard.as_deref_mut().expect("the engine lock is held")
    }
}
