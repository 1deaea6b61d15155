//! A small purpose-built JSON scanner for the response envelopes (consume, ack, error bodies).
//!
//! Why not serde_json: the wasm module has a 150 KB budget and serde_json's `Deserializer`,
//! its error type and the float formatting that serde's error messages pull in were ~45 KB of
//! a 188 KB module. The envelopes are flat, so a scanner that validates JSON syntax, walks
//! objects key by key and hands back each value as its raw text (borrowed from the body, like
//! `&RawValue`) does the whole job. The typed readers below mirror what `#[derive(Deserialize)]`
//! with `Option` fields accepted: `null` is absent, an integer must be a plain non-negative
//! literal, a mistyped or duplicated field is a shape error. `tests/scan.rs` compares it with
//! serde_json on generated envelopes.
//!
//! It reads bytes, not `&str`: a consume response is ~630 kB, almost all base64 (ASCII, which
//! the base64 decoder checks byte by byte anyway), and the whole-body UTF-8 check it needed
//! was 2 to 3% of `decodeConsumeResponse` (5 to 9% of its wasm time; `bench/README.md`). The
//! scanner checks JSON syntax only; UTF-8 is checked by whoever turns a raw value into text
//! ([`Scanner::text_value`], or `std::str::from_utf8` on the raw bytes as [`crate::columns`]
//! does), once per string, and those strings are short. Keys are compared with field names as
//! bytes; a key that matches none is checked by [`Scanner::check_key`] (known names are ASCII,
//! so a match needs no check). A skipped value's strings are not checked, so they may hold
//! invalid UTF-8: serde_json skips an unknown field's value unchecked too, while it checks
//! every string it reads (`tests/utf8.rs` holds both side by side). Outside strings a
//! non-ASCII byte is a syntax error, as before.

use std::borrow::Cow;

/// serde_json's default nesting limit; deeper input is refused rather than overflowing.
const MAX_DEPTH: usize = 128;

/// Why a text could not be scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// Not JSON (or truncated): the reason and the byte position.
    Syntax(&'static str, usize),
    /// A string the caller reads is not UTF-8: the position of its first invalid byte.
    NotUtf8(usize),
    /// JSON, but a field has the wrong type or appears twice.
    Shape(String),
}

impl ScanError {
    /// The message, with the byte position for syntax and UTF-8 errors (written without fmt).
    pub(crate) fn message(&self) -> String {
        let (reason, at) = match self {
            ScanError::Syntax(reason, at) => (*reason, *at),
            ScanError::NotUtf8(at) => ("in a string", *at),
            ScanError::Shape(text) => return text.clone(),
        };
        let mut out = String::from(reason);
        out.push_str(" at byte ");
        crate::write::write_u64(&mut out, at as u64);
        out
    }
}

/// A shape error "invalid type for field `name`: expected <expected>".
pub(crate) fn shape(field: &str, expected: &str) -> ScanError {
    let mut text = String::from("invalid type for field `");
    text.push_str(field);
    text.push_str("`: expected ");
    text.push_str(expected);
    ScanError::Shape(text)
}

/// What [`Scanner::object_once`] calls for each member: key, and the scanner before the value.
pub(crate) type MemberFn<'a, 'f> = dyn FnMut(&[u8], &mut Scanner<'a>) -> Result<(), ScanError> + 'f;

/// A cursor over a JSON text, as bytes (see the module docs for where UTF-8 is checked).
pub(crate) struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn err<T>(&self, reason: &'static str) -> Result<T, ScanError> {
        Err(ScanError::Syntax(reason, self.pos))
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Whitespace and then the end of the text.
    pub(crate) fn finish(&mut self) -> Result<(), ScanError> {
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return self.err("trailing characters");
        }
        Ok(())
    }

    /// The next non-whitespace byte, not consumed.
    pub(crate) fn next_byte(&mut self) -> Option<u8> {
        self.skip_ws();
        self.peek()
    }

    /// Skips one value (after whitespace) and returns its raw bytes; UTF-8 is not checked
    /// (a value read as text goes through [`Scanner::text_value`]).
    pub(crate) fn value(&mut self) -> Result<&'a [u8], ScanError> {
        self.value_at(0)
    }

    /// Like [`Scanner::value`], for a value the caller keeps as text (a string, or another
    /// value's JSON text): its bytes must be UTF-8, else [`ScanError::NotUtf8`].
    pub(crate) fn text_value(&mut self) -> Result<&'a str, ScanError> {
        self.skip_ws();
        let raw = self.value()?;
        utf8_in(self.bytes, raw)
    }

    fn value_at(&mut self, depth: usize) -> Result<&'a [u8], ScanError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None => return self.err("EOF while parsing a value"),
            Some(b'"') => self.string_body()?,
            Some(b'{') | Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return self.err("recursion limit exceeded");
                }
                let object = self.peek() == Some(b'{');
                self.pos += 1;
                self.skip_ws();
                let close = if object { b'}' } else { b']' };
                if self.peek() == Some(close) {
                    self.pos += 1;
                } else {
                    loop {
                        if object {
                            self.skip_ws();
                            if self.peek() != Some(b'"') {
                                return self.err("expected a string key");
                            }
                            self.string_body()?;
                            self.colon()?;
                        }
                        self.value_at(depth + 1)?;
                        if self.separator(close)? {
                            break;
                        }
                    }
                }
            }
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'n') => self.literal("null")?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return self.err("expected a value"),
        }
        Ok(&self.bytes[start..self.pos])
    }

    fn colon(&mut self) -> Result<(), ScanError> {
        self.skip_ws();
        if self.peek() != Some(b':') {
            return self.err("expected ':'");
        }
        self.pos += 1;
        Ok(())
    }

    /// After a member: `,` (returns false) or `close` (returns true).
    fn separator(&mut self, close: u8) -> Result<bool, ScanError> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            None => self.err("EOF while parsing a list or object"),
            Some(_) => self.err("expected ',' or a closing bracket"),
        }
    }

    fn literal(&mut self, word: &'static str) -> Result<(), ScanError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.err("expected a literal")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), ScanError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        Ok(())
    }

    /// A string starting at the current `"`; checks escapes and control characters.
    fn string_body(&mut self) -> Result<(), ScanError> {
        self.pos += 1;
        loop {
            self.pos = skip_plain_string_bytes(self.bytes, self.pos);
            match self.peek() {
                None => return self.err("EOF while parsing a string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            let hex = self.bytes.get(self.pos..self.pos + 4);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.err("invalid \\u escape");
                            }
                            self.pos += 4;
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
                Some(0..=0x1f) => return self.err("control character in a string"),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Walks an object whose `{` is next; calls `field(key, scanner)` for each member with
    /// the scanner positioned before the value, which `field` must consume (e.g. with
    /// [`Scanner::value`]). `key` is the key's content as bytes, for comparing with field
    /// names, unescaped when it has escapes. Only an escaped key is checked to be UTF-8 here
    /// (unescaping needs text); `field` passes any other key that matches no name to
    /// [`Scanner::check_key`].
    pub(crate) fn object<F>(&mut self, mut field: F) -> Result<(), ScanError>
    where
        F: FnMut(&[u8], &mut Self) -> Result<(), ScanError>,
    {
        self.skip_ws();
        if self.peek() != Some(b'{') {
            return self.err("expected '{'");
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return self.err("expected a string key");
            }
            let start = self.pos;
            self.string_body()?;
            let raw = &self.bytes[start..self.pos];
            let inner = &raw[1..raw.len() - 1];
            let unescaped;
            let key = if inner.contains(&b'\\') {
                unescaped = unescape_key(self.bytes, raw)?;
                unescaped.as_bytes()
            } else {
                inner
            };
            self.colon()?;
            field(key, self)?;
            if self.separator(b'}')? {
                return Ok(());
            }
        }
    }

    /// [`Scanner::object`] for objects read once per body (the response's own keys, ack and
    /// error bodies): one instance for all of them, through `dyn`, instead of one per caller
    /// (1.4 kB of the module). A message's object, read per message, keeps its own instance.
    pub(crate) fn object_once(&mut self, field: &mut MemberFn<'a, '_>) -> Result<(), ScanError> {
        self.object(field)
    }

    /// Checks that `key`, as [`Scanner::object`] passed it, is UTF-8: for a key that matches no
    /// field name (serde's derive reads every key as a string, so it refused such a key too).
    pub(crate) fn check_key(&self, key: &[u8]) -> Result<(), ScanError> {
        self.key_text(key).map(drop)
    }

    /// `key`, as [`Scanner::object`] passed it, as text; [`ScanError::NotUtf8`] if it is not.
    /// For objects read rarely (error and ack bodies, the response's own keys), whose fields
    /// are then matched as `&str`: compact code, where byte-string patterns on the hot message
    /// object compile to a byte-by-byte decision tree. Out of line: it has several callers.
    #[inline(never)]
    pub(crate) fn key_text<'k>(&self, key: &'k [u8]) -> Result<&'k str, ScanError> {
        // Only a key borrowed from the body can fail (an unescaped one was checked as text), so
        // the position `utf8_in` computes on failure is always one in the body.
        utf8_in(self.bytes, key)
    }

    /// Walks an array whose `[` is next; `item` must consume each element.
    pub(crate) fn array<F>(&mut self, mut item: F) -> Result<(), ScanError>
    where
        F: FnMut(&mut Self) -> Result<(), ScanError>,
    {
        self.skip_ws();
        if self.peek() != Some(b'[') {
            return self.err("expected '['");
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            if self.separator(b']')? {
                return Ok(());
            }
        }
    }
}

/// An escaped key's content (`raw`, a slice of `body`, with its quotes), which must be UTF-8
/// since unescaping needs text; a lone surrogate escape reads as "" (no field has that name).
/// Out of line and cold: [`Scanner::object`] is instantiated once per caller, and keys with
/// escapes are rare.
#[cold]
#[inline(never)]
fn unescape_key<'r>(body: &[u8], raw: &'r [u8]) -> Result<Cow<'r, str>, ScanError> {
    Ok(unescape(utf8_in(body, raw)?).unwrap_or(Cow::Borrowed("")))
}

/// `raw`, a slice of `body`, as text; if it is not UTF-8, [`ScanError::NotUtf8`] at the body
/// position of its first invalid byte. The scanner's own checks (see the module docs); the
/// consume decoder's per-message strings use the same rule with an out-of-line error of its
/// own (`columns::text`: through this function the module grew by 110 bytes).
#[inline]
pub(crate) fn utf8_in<'r>(body: &[u8], raw: &'r [u8]) -> Result<&'r str, ScanError> {
    std::str::from_utf8(raw).map_err(|e| ScanError::NotUtf8(offset_in(body, raw) + e.valid_up_to()))
}

/// Where `raw`, a slice of `body`, starts in it: a pointer difference.
pub(crate) fn offset_in(body: &[u8], raw: &[u8]) -> usize {
    raw.as_ptr() as usize - body.as_ptr() as usize
}

/// The first position at or after `at` holding `"`, `\` or a control character (or the
/// end of `bytes`).
///
/// Why eight bytes at a time: base64 payloads are most of a consume response, and a byte loop
/// over them was the scanner's largest cost in the decode profile (`bench/profile-decode.mjs`).
/// The word tests are the classic "has a zero byte" / "has a byte below n" bit tricks; they
/// only say whether the word holds such a byte, and the byte loop then finds which.
fn skip_plain_string_bytes(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS != 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = has_zero_byte(w ^ (ONES * u64::from(b'"')));
        let backslash = has_zero_byte(w ^ (ONES * u64::from(b'\\')));
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS != 0;
        if quote || backslash || control {
            break;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

/// The content of a raw (already scanned) JSON string literal, borrowed when it has no
/// escapes; `None` when `raw` is not a string or holds a lone surrogate escape (serde_json
/// refuses those too).
pub fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    let hex4 = |at: usize| -> Option<u32> { u32::from_str_radix(inner.get(at..at + 4)?, 16).ok() };
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, escape) = chars.next()?;
        match escape {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let high = hex4(i + 2)?;
                for _ in 0..4 {
                    chars.next();
                }
                let code = if (0xD800..0xDC00).contains(&high) {
                    // A high surrogate must be followed by `\u` and a low surrogate.
                    if inner.get(i + 6..i + 8) != Some("\\u") {
                        return None;
                    }
                    let low = hex4(i + 8)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    for _ in 0..6 {
                        chars.next();
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
    }
    Some(Cow::Owned(out))
}

/// `null` → `None`; otherwise a plain non-negative integer literal that fits `max`.
pub(crate) fn read_uint(raw: &[u8], field: &str, max: u64) -> Result<Option<u64>, ScanError> {
    if raw == b"null" {
        return Ok(None);
    }
    match parse_digits(raw) {
        Some(n) if n <= max => Ok(Some(n)),
        _ => Err(shape(
            field,
            if max == u64::from(u32::MAX) {
                "u32"
            } else {
                "u64"
            },
        )),
    }
}

/// A non-empty run of ASCII digits as a u64, `None` for anything else or an overflow: the
/// numbers `str::parse::<u64>` took (after an all-digits check) when the scanner read `&str`.
fn parse_digits(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for (i, b) in raw.iter().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = u64::from(b - b'0');
        // 19 digits cannot overflow (u64::MAX has 20): only later ones pay for checked
        // arithmetic, which on wasm32 calls a 128-bit multiply (seen in the decode profile
        // when every digit of every offset and timestamp did; `str::parse` avoids it too).
        n = if i < 19 {
            n * 10 + digit
        } else {
            n.checked_mul(10)?.checked_add(digit)?
        };
    }
    Some(n)
}

/// `null` → `None`; otherwise `true` or `false`.
pub(crate) fn read_bool(raw: &[u8], field: &str) -> Result<Option<bool>, ScanError> {
    // `==`, not byte-string patterns, which compile to a byte-by-byte decision tree.
    if raw == b"null" {
        Ok(None)
    } else if raw == b"true" || raw == b"false" {
        Ok(Some(raw == b"true"))
    } else {
        Err(shape(field, "a boolean"))
    }
}

/// `null` → `None`; otherwise a string's content.
pub(crate) fn read_string(raw: &str, field: &str) -> Result<Option<String>, ScanError> {
    if raw == "null" {
        return Ok(None);
    }
    match unescape(raw) {
        Some(s) => Ok(Some(s.into_owned())),
        None => Err(shape(field, "a string")),
    }
}

/// `null` → `None`; otherwise the raw value (text or bytes).
pub(crate) fn non_null<T: AsRef<[u8]> + ?Sized>(raw: &T) -> Option<&T> {
    (raw.as_ref() != b"null").then_some(raw)
}

/// Marks field number `bit` as seen; a second time is a shape error ("duplicate field"), as
/// with serde's derive (aliases count as the same field).
pub(crate) fn mark(seen: &mut u32, bit: u32, field: &str) -> Result<(), ScanError> {
    if *seen & (1 << bit) != 0 {
        let mut text = String::from("duplicate field `");
        text.push_str(field);
        text.push('`');
        return Err(ScanError::Shape(text));
    }
    *seen |= 1 << bit;
    Ok(())
}

/// Whether `text` is one JSON value (with surrounding whitespace) by this scanner's rules;
/// exposed so the property tests can hold it against serde_json.
pub fn is_valid_json(text: &str) -> bool {
    let mut scanner = Scanner::new(text.as_bytes());
    scanner.value().is_ok() && scanner.finish().is_ok()
}
