//! Invalid UTF-8 in a consume response. The decoder reads the body as bytes and checks UTF-8
//! only in the strings it reads (`src/scan.rs`, `src/columns.rs`): there it fails the
//! response, as the whole-body check did; in a payload it is that message's `decode_error`; in
//! the value of a field it skips it is accepted. Each case also says what the serde derive the
//! scanner replaced (`support::reference`) does with the same bytes: the same, but for the
//! payload, where serde failed the whole response.

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kalam_consumer_core::columns::decode_consume_columns;
use kalam_consumer_core::{DecodeError, RequestContext};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::assemble::decode_bytes;
use support::reference::RefResponse;

const CTX: RequestContext<'static> = RequestContext {
    topic_id: "app.events",
    group_id: "g",
    partition_id: 3,
};

/// Not UTF-8: a lone continuation byte, a truncated two-byte sequence, an overlong `/`, a
/// UTF-16 surrogate encoded as UTF-8, a byte that never occurs in UTF-8.
const BAD: [&[u8]; 5] = [b"\x80", b"\xc3(", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff"];

/// `template` with `@` replaced by `bytes`, and where that is in the result.
fn splice(template: &str, bytes: &[u8]) -> (Vec<u8>, usize) {
    let at = template.find('@').expect("template has an @");
    let mut body = template.as_bytes()[..at].to_vec();
    body.extend_from_slice(bytes);
    body.extend_from_slice(&template.as_bytes()[at + 1..]);
    (body, at)
}

/// What the serde reference says of a body: `Ok`, or `Err(true)` for a syntax error (invalid
/// UTF-8 in a string it reads is one: "invalid unicode code point").
fn serde_reads(body: &[u8]) -> Result<(), bool> {
    serde_json::from_slice::<RefResponse<'_>>(body)
        .map(drop)
        .map_err(|e| e.is_syntax())
}

/// Templates whose `@` lands in a string the decoder reads.
const READ: [&str; 14] = [
    r#"{"messages":[{"topic_id":"a@b","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"topic":"@","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"key":"k@","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"message_id":"@","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"key":{"nested":["@"]},"op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"user":"@","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"username":["@"],"op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"op":"Ups@rt","payload":"e30="}]}"#,
    r#"{"messages":[{"op":{"custom":"@"},"payload":"e30="}]}"#,
    // A topic_id that is not a string falls back to the request's, but is read all the same.
    r#"{"messages":[{"topic_id":{"a":"@"},"op":"Insert","payload":"e30="}]}"#,
    // A key that matches no field (serde's derive reads every key as a string).
    r#"{"messages":[{"@":"x","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"op":"Insert","payload":"e30="}],"x@":[1]}"#,
    r#"{"messages":[{"x\n@":1,"op":"Insert","payload":"e30="}]}"#,
    r#"{"@":1,"messages":[{"op":"Insert","payload":"e30="}]}"#,
];

#[test]
fn invalid_utf8_in_a_string_the_decoder_reads_fails_the_response() {
    for template in READ {
        for bad in BAD {
            let (body, at) = splice(template, bad);
            let err = decode_bytes(&body, &CTX).unwrap_err();
            // The position is the first byte that is not UTF-8 (for "\xc3(" the \xc3).
            assert_eq!(
                err,
                DecodeError::NotUtf8(format!("in a string at byte {at}")),
                "{}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(
                err.to_string(),
                format!("response body is not UTF-8 (in a string at byte {at})")
            );
            assert_eq!(serde_reads(&body), Err(true));
        }
    }
}

#[test]
fn a_later_message_is_read_too_and_a_syntax_error_still_wins() {
    let ok = r#"{"topic_id":"t","user":"alice","op":"Insert","payload":"e30="}"#;
    // The same topic and user as the message before, but for the bad byte: compared as bytes,
    // they are not the same, so they are checked.
    for bad_one in [
        r#"{"topic_id":"t@","user":"alice","op":"Insert","payload":"e30="}"#,
        r#"{"topic_id":"t","user":"alice@","op":"Insert","payload":"e30="}"#,
    ] {
        let (body, at) = splice(&format!(r#"{{"messages":[{ok},{bad_one}]}}"#), b"\xff");
        assert_eq!(
            decode_bytes(&body, &CTX).unwrap_err(),
            DecodeError::NotUtf8(format!("in a string at byte {at}"))
        );
        // Truncated after the bad byte: not JSON, whatever else it holds.
        let cut = &body[..at + 5];
        assert!(matches!(
            decode_bytes(cut, &CTX),
            Err(DecodeError::Malformed(_))
        ));
    }
}

/// Templates whose `@` lands in the value of a field the decoder skips (every `@` of a
/// template gets the same bytes).
const SKIPPED: [&str; 4] = [
    r#"{"messages":[{"extra":"@","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"op":"Insert","payload":"e30=","meta":{"k":["x","@"],"@x":0}}],"trace":"@"}"#,
    r#"{"trace":{"@":"@"},"messages":[{"topic_id":"t","op":"Insert","payload":"e30="}]}"#,
    r#"{"messages":[{"topic_id":"t","op":"Insert","payload":"e30="}],"next_offset":1,"x":["@"]}"#,
];

/// `template` with every `@` replaced by `bytes`.
fn splice_all(template: &str, bytes: &[u8]) -> Vec<u8> {
    let mut parts = template.split('@');
    let mut body = parts.next().unwrap_or_default().as_bytes().to_vec();
    for part in parts {
        body.extend_from_slice(bytes);
        body.extend_from_slice(part.as_bytes());
    }
    body
}

#[test]
fn invalid_utf8_in_a_skipped_value_is_accepted() {
    for template in SKIPPED {
        let expected = decode_bytes(&splice_all(template, b"?"), &CTX).unwrap();
        for bad in BAD {
            let body = splice_all(template, bad);
            // The decoder does not read that value, and decodes the rest exactly as without
            // the bytes; serde's derive skipped an unknown field's value unchecked too.
            assert_eq!(serde_reads(&body), Ok(()));
            assert_eq!(
                decode_bytes(&body, &CTX).unwrap(),
                expected,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

#[test]
fn invalid_utf8_in_a_payload_is_that_messages_decode_error() {
    let good = STANDARD.encode(br#"{"ok":1}"#);
    for bad in BAD {
        let body = splice_all(
            &format!(
                r#"{{"messages":[
                {{"offset":1,"op":"Insert","payload":"{good}"}},
                {{"offset":2,"op":"Insert","payload":"e3@0="}},
                {{"offset":3,"op":"Insert","payload":{{"a":"x@"}}}},
                {{"offset":4,"op":"Insert","payload":"{good}"}}
            ]}}"#
            ),
            bad,
        );
        // The one intended difference from serde's derive, which failed the whole response:
        // one bad payload never spoils the batch.
        assert_eq!(serde_reads(&body), Err(true));
        let batch = decode_bytes(&body, &CTX).unwrap();
        let m = batch["messages"].as_array().unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0]["payload"], json!({"ok": 1}));
        assert_eq!(m[3]["payload"], json!({"ok": 1}));
        let lossy = |s: &str| String::from_utf8_lossy(&splice_all(s, bad)).into_owned();
        // A base64 string with a non-ASCII byte is not base64.
        assert!(m[1].get("payload").is_none());
        assert!(m[1]["decode_error"]
            .as_str()
            .unwrap()
            .starts_with("payload is not valid base64: "));
        assert_eq!(m[1]["raw_payload"], json!(lossy("e3@0=")));
        // An already-JSON payload: its bytes are checked where they are parsed; its
        // raw_payload has U+FFFD for each invalid sequence (a JS string cannot hold them).
        assert!(m[2].get("payload").is_none());
        assert!(m[2]["decode_error"]
            .as_str()
            .unwrap()
            .starts_with("payload is not valid UTF-8: "));
        assert_eq!(m[2]["raw_payload"], json!(lossy(r#"{"a":"x@"}"#)));
        assert!(m[2]["raw_payload"].as_str().unwrap().contains('\u{fffd}'));
    }
}

#[test]
fn multi_byte_utf8_round_trips_exactly() {
    // Raw (unescaped) UTF-8 of every length, a combining mark, a BOM-like U+FEFF, and the
    // same texts escaped, which must read the same.
    let texts = [
        "caf\u{e9}",
        "\u{65e5}\u{672c}\u{8a9e}",
        "\u{1F600}x\u{1F680}",
        "e\u{301}",
        "\u{feff}bom",
        "\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}",
    ];
    let mut messages = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        for _ in 0..2 {
            messages.push(json!({ "topic_id": text, "key": text, "user": text, "op": format!("op {text}"), "offset": i, "payload": "e30=" }));
        }
    }
    let raw = json!({ "messages": messages }).to_string();
    assert!(
        raw.contains("\u{1F600}"),
        "serde_json writes non-ASCII as is"
    );
    let escaped: String = raw
        .chars()
        .flat_map(|c| {
            if c.is_ascii() {
                vec![c.to_string()]
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect();
    for body in [raw.as_str(), escaped.as_str()] {
        let batch = decode_bytes(body.as_bytes(), &CTX).unwrap();
        let decoded = batch["messages"].as_array().unwrap();
        assert_eq!(decoded.len(), texts.len() * 2);
        for (m, text) in decoded.iter().zip(texts.iter().flat_map(|t| [t, t])) {
            assert_eq!(m["topic"], json!(text));
            assert_eq!(m["key"], json!(text));
            assert_eq!(m["user"], json!(text));
            assert_eq!(m["op"], json!(format!("op {text}")));
        }
    }
}

/// Where a generated string goes, and whether the decoder reads it there.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Topic,
    Key,
    User,
    Op,
    UnknownKey,
    UnknownValue,
}

impl Slot {
    fn template(self) -> &'static str {
        match self {
            Slot::Topic => r#"{"messages":[{"topic_id":"@","op":"Insert","payload":"e30="}]}"#,
            Slot::Key => r#"{"messages":[{"key":"@","op":"Insert","payload":"e30="}]}"#,
            Slot::User => r#"{"messages":[{"user":"@","op":"Insert","payload":"e30="}]}"#,
            Slot::Op => r#"{"messages":[{"op":"x@","payload":"e30="}]}"#,
            Slot::UnknownValue => r#"{"messages":[{"op":"Insert","x":["@"],"payload":"e30="}]}"#,
            Slot::UnknownKey => r#"{"messages":[{"op":"Insert","@x":1,"payload":"e30="}]}"#,
        }
    }

    fn read(self) -> bool {
        !matches!(self, Slot::UnknownValue)
    }
}

/// String content without `"`, `\` or control characters (so JSON syntax never depends on it):
/// arbitrary bytes, mostly not UTF-8, or the bytes of an arbitrary text.
fn arb_content() -> impl Strategy<Value = Vec<u8>> {
    let plain = |b: &u8| *b >= 0x20 && *b != b'"' && *b != b'\\';
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12)
            .prop_map(move |v| v.into_iter().filter(plain).collect()),
        "\\PC{0,8}".prop_map(move |s| s.into_bytes().into_iter().filter(plain).collect()),
    ]
}

proptest! {
    #[test]
    fn read_strings_fail_exactly_when_not_utf8(content in arb_content(), slot in prop_oneof![
        Just(Slot::Topic), Just(Slot::Key), Just(Slot::User), Just(Slot::Op),
        Just(Slot::UnknownKey), Just(Slot::UnknownValue),
    ]) {
        let (body, at) = splice(slot.template(), &content);
        let utf8 = std::str::from_utf8(&content);
        // serde's derive and the decoder fail on exactly the same bodies.
        let serde = serde_reads(&body);
        let ours = decode_bytes(&body, &CTX);
        prop_assert_eq!(serde.is_ok(), ours.is_ok(), "{:?} {:?}", serde, ours);
        prop_assert_eq!(serde.is_ok(), !slot.read() || utf8.is_ok());
        match (slot.read(), utf8) {
            (true, Err(e)) => prop_assert_eq!(
                ours.unwrap_err(),
                DecodeError::NotUtf8(format!("in a string at byte {}", at + e.valid_up_to()))
            ),
            (true, Ok(text)) => {
                let m = ours.unwrap()["messages"][0].clone();
                let (field, expected) = match slot {
                    Slot::Topic => ("topic", text.to_owned()),
                    Slot::Key => ("key", text.to_owned()),
                    Slot::User => ("user", text.to_owned()),
                    Slot::Op => ("op", format!("x{text}")),
                    _ => ("op", String::from("Insert")),
                };
                prop_assert_eq!(&m[field], &Value::String(expected));
            }
            (false, _) => prop_assert!(ours.is_ok()),
        }
    }

    #[test]
    fn utf16_ends_match_the_text(topic in "\\PC{0,6}", key in "\\PC{0,6}", user in "\\PC{0,6}") {
        let body = json!({ "messages": [
            { "topic_id": topic, "key": key, "user": user, "op": "Insert", "payload": "e30=" },
            { "topic_id": topic, "key": user, "user": key, "op": "Delete", "payload": "e30=" },
        ] }).to_string();
        let columns = decode_consume_columns(body.as_bytes(), &CTX).unwrap();
        let strings = &columns.strings;
        let mut start = 0;
        for (i, &end) in strings.ends.iter().enumerate() {
            let units = strings.get(i).unwrap().encode_utf16().count() as u32;
            prop_assert_eq!(end - start, units);
            start = end;
        }
        prop_assert_eq!(start as usize, strings.text.encode_utf16().count());
    }
}
