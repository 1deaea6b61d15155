//! The in-memory consumer-group cursor and claims of PROTOCOL §3.3-§3.5 and §3.7. Pure logic
//! over offsets and instants so the strange parts (prefix acks do not release a claim,
//! expiry rewinds to the claim start) can be tested without a server.

use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub topic: String,
    pub group: String,
    pub partition: u32,
}

#[derive(Clone, Debug)]
pub struct Claim {
    /// Half-open range [start, end).
    pub start: u64,
    pub end: u64,
    pub claimed_at: Instant,
}

#[derive(Clone, Debug)]
pub struct GroupState {
    pub cursor: u64,
    pub claims: Vec<Claim>,
}

impl GroupState {
    pub fn new(cursor: u64) -> GroupState {
        GroupState {
            cursor,
            claims: Vec::new(),
        }
    }

    /// Drops claims older than `timeout` and rewinds the cursor to the smallest expired start.
    pub fn expire(&mut self, now: Instant, timeout: Duration) {
        let mut rewind: Option<u64> = None;
        self.claims.retain(|c| {
            let expired = now.saturating_duration_since(c.claimed_at) >= timeout;
            if expired {
                rewind = Some(rewind.map_or(c.start, |r: u64| r.min(c.start)));
            }
            !expired
        });
        if let Some(r) = rewind {
            self.cursor = self.cursor.min(r);
        }
    }

    /// Moves the cursor out of live claims and returns the window to read: offsets from the
    /// cursor up to (excluding) the start of the next live claim, if any.
    pub fn window(&mut self) -> (u64, Option<u64>) {
        loop {
            let inside = self
                .claims
                .iter()
                .find(|c| c.start <= self.cursor && self.cursor < c.end);
            match inside {
                Some(c) => self.cursor = c.end,
                None => break,
            }
        }
        let bound = self
            .claims
            .iter()
            .filter(|c| c.start >= self.cursor)
            .map(|c| c.start)
            .min();
        (self.cursor, bound)
    }

    /// Records a delivered batch [first, last] as claimed and moves the cursor past it.
    pub fn claim(&mut self, first: u64, last: u64, now: Instant) {
        self.claims.push(Claim {
            start: first,
            end: last + 1,
            claimed_at: now,
        });
        self.cursor = self.cursor.max(last + 1);
    }

    /// Ack up to `upto` inclusive: claims wholly covered are released, the cursor is raised.
    pub fn ack(&mut self, upto: u64) {
        let covered = upto.saturating_add(1);
        self.claims.retain(|c| covered < c.end);
        self.cursor = self.cursor.max(covered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_consumers_get_disjoint_ranges_and_prefix_ack_keeps_claim() {
        let t0 = Instant::now();
        let mut g = GroupState::new(0);
        assert_eq!(g.window(), (0, None));
        g.claim(0, 2, t0);
        assert_eq!(g.window(), (3, None));
        g.claim(3, 5, t0);
        g.ack(0); // prefix of the first claim: nothing released
        assert_eq!(g.claims.len(), 2);
        g.ack(2);
        assert_eq!(g.claims.len(), 1);
        assert_eq!(g.cursor, 6);
    }

    #[test]
    fn expiry_rewinds_to_claim_start_and_stops_at_live_claims() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(60);
        let mut g = GroupState::new(0);
        g.claim(0, 2, t0);
        g.claim(3, 5, t0 + Duration::from_secs(30));
        g.ack(0);
        g.expire(t0 + Duration::from_secs(61), timeout);
        assert_eq!(g.cursor, 0);
        // redelivery of 0..=2 only: the live claim starting at 3 bounds the window
        assert_eq!(g.window(), (0, Some(3)));
        g.claim(0, 2, t0 + Duration::from_secs(61));
        // next window jumps over the live claim
        assert_eq!(g.window(), (6, None));
    }

    #[test]
    fn ack_beyond_the_end_skips_ahead() {
        let mut g = GroupState::new(0);
        g.ack(99);
        assert_eq!(g.window(), (100, None));
    }
}
