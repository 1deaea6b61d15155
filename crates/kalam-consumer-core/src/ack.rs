//! The ack response (§3.7).

use crate::response::DecodeError;
use crate::scan::{self, Scanner};

/// The ack response (§3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckResponse {
    /// Always true from the real server.
    pub success: bool,
    /// The acked offset (echoes the request).
    pub acknowledged_offset: u64,
}

/// Decodes an ack response body; `success` defaults to true and `acknowledged_offset` to the
/// request's `upto_offset` (§7.1).
pub fn decode_ack_response(body: &str, upto_offset: u64) -> Result<AckResponse, DecodeError> {
    let mut scanner = Scanner::new(body.as_bytes());
    if scanner.next_byte() != Some(b'{') {
        scanner.value().map_err(DecodeError::from_scan)?;
        scanner.finish().map_err(DecodeError::from_scan)?;
        return Err(DecodeError::Shape(String::from(
            "the response is not a JSON object",
        )));
    }
    let (mut success, mut acknowledged_offset, mut seen) = (None, None, 0u32);
    scanner
        .object_once(&mut |key, scanner| {
            let key = scanner.key_text(key)?;
            let raw = scanner.value()?;
            match key {
                "success" => {
                    scan::mark(&mut seen, 0, key)?;
                    success = scan::read_bool(raw, key)?;
                }
                "acknowledged_offset" => {
                    scan::mark(&mut seen, 1, key)?;
                    acknowledged_offset = scan::read_uint(raw, key, u64::MAX)?;
                }
                _ => {}
            }
            Ok(())
        })
        .and_then(|()| scanner.finish())
        .map_err(DecodeError::from_scan)?;
    Ok(AckResponse {
        success: success.unwrap_or(true),
        acknowledged_offset: acknowledged_offset.unwrap_or(upto_offset),
    })
}
