//! The columns decoder (wasm hot path) against the batch-text reference decoder
//! (`support::batch_text`): rebuilding messages from columns the way
//! `crates/kalam-consumer-wasm/js/assemble.js` does must give the same batch, field for field,
//! in the same key order. Also: `assemble.js` reads the layout these columns are written in.

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kalam_consumer_core::columns::{decode_consume_columns, field, string, STRIDE};
use kalam_consumer_core::{DecodeError, RequestContext};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::assemble::rebuild;
use support::batch_text::decode_consume_response;

const CTX: RequestContext<'static> = RequestContext {
    topic_id: "app.events",
    group_id: "billing",
    partition_id: 3,
};

fn b64(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

/// Both decoders on one body. For UTF-8 and JSON errors the reason after the colon comes from
/// whichever decoder found it, so decode_error texts are compared up to the colon.
fn assert_same(body: &str) {
    let text = decode_consume_response(body, &CTX);
    let columns = decode_consume_columns(body.as_bytes(), &CTX);
    match (text, columns) {
        (Ok(text), Ok(columns)) => {
            let mut expected: Value = serde_json::from_str(&text).unwrap();
            let mut actual = rebuild(&columns, body.as_bytes());
            for batch in [&mut expected, &mut actual] {
                for m in batch["messages"].as_array_mut().unwrap() {
                    if let Some(e) = m.get_mut("decode_error") {
                        let text = e.as_str().unwrap().to_owned();
                        for kind in ["payload is not valid JSON", "payload is not valid UTF-8"] {
                            if text.starts_with(kind) {
                                *e = json!(kind);
                            }
                        }
                    }
                }
            }
            assert_eq!(
                serde_json::to_string(&actual).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("decoders disagree on {body}: text {a:?}, columns {b:?}"),
    }
}

#[test]
fn protocol_example() {
    // §3.2 example, verbatim.
    assert_same(
        r#"{"messages":[{"topic_id":"app.events","partition_id":0,"offset":17,"payload":"eyJpZCI6IjQyIiwic3RhdHVzIjoibmV3IiwiX3NlcSI6IjcyOTIwMDAwMDAwMDAwMTIzNDUiLCJfY29tbWl0X3NlcSI6IjExNyIsIl9kZWxldGVkIjpmYWxzZSwiX3RhYmxlIjoiYXBwOm9yZGVycyJ9","key":"42","timestamp_ms":1730000000123,"user":"alice","op":"Insert"}],"next_offset":18,"has_more":false}"#,
    );
}

#[test]
fn fallbacks_aliases_and_odd_values() {
    let messages = json!([
        { "offset": 1, "payload": b64("{}"), "op": "insert" },
        { "topic": "other", "message_id": 5, "ts": 9, "username": "bob", "value": b64("[1]"), "op": "DELETE" },
        { "topic_id": 7, "key": {"a": 1}, "user": null, "payload": {"already": "json"}, "op": "Upsert" },
        { "topic_id": "caf\u{e9} \\u2713", "user": "\u{1F600}x", "payload": "!!", "op": "Update", "partition_id": 4 },
        { "offset": 2, "op": "Insert" },
        { "offset": 3, "payload": b64("not json"), "op": "Insert" },
        { "offset": 4, "payload": STANDARD.encode([0xc3u8]), "op": "Insert" },
        { "offset": 5, "payload": null, "op": "Insert" },
        { "offset": 6, "payload": b64("{\"a\":\"/\"}").replace('/', "\\/"), "op": "Insert" },
    ]);
    assert_same(&json!({ "messages": messages, "next_offset": 7, "has_more": true }).to_string());
}

#[test]
fn escaped_base64_decodes() {
    // `\/` is legal JSON inside the base64 string.
    let payload = b64("{\"k\":\"??>\"}");
    assert!(payload.contains('/') || payload.contains('+'));
    let escaped = payload.replace('/', "\\/");
    let body = format!(r#"{{"messages":[{{"payload":"{escaped}","op":"Insert"}}]}}"#);
    assert_same(&body);
}

#[test]
fn repeated_topics_users_and_ops_share_one_string() {
    let messages: Vec<Value> = (0..5)
        .map(|i| json!({ "topic_id": "t", "user": "alice", "op": "Custom", "offset": i, "payload": b64("1") }))
        .collect();
    let columns =
        decode_consume_columns(json!({ "messages": messages }).to_string().as_bytes(), &CTX)
            .unwrap();
    // 3 ops + group + topic + user + op, once each.
    assert_eq!(columns.strings.ends.len(), 7);
    assert_eq!(columns.len(), 5);
}

#[test]
fn string_offsets_are_utf16() {
    let body = json!({ "messages": [
        { "key": "\u{1F600}", "op": "Insert", "payload": b64("1") },
        { "key": "é", "op": "Insert", "payload": b64("2") },
    ] })
    .to_string();
    let columns = decode_consume_columns(body.as_bytes(), &CTX).unwrap();
    let ends = &columns.strings.ends;
    let n = ends.len();
    // The emoji is two UTF-16 units, é one.
    assert_eq!(ends[n - 2] - ends[n - 3], 2);
    assert_eq!(ends[n - 1] - ends[n - 2], 1);
}

#[test]
fn errors_match_the_text_decoder() {
    for body in [
        "",
        "[]",
        "{",
        r#"{"messages":{}}"#,
        r#"{"messages":[{"payload":"e30="}]}"#,
        r#"{"next_offset":-1}"#,
    ] {
        let columns = decode_consume_columns(body.as_bytes(), &CTX).unwrap_err();
        let text = decode_consume_response(body, &CTX).unwrap_err();
        assert_eq!(columns, text, "{body}");
        assert!(matches!(
            columns,
            DecodeError::Malformed(_) | DecodeError::Shape(_)
        ));
    }
}

/// `assemble.js` (the wasm crate's JS snippet that reads the columns) as text.
const ASSEMBLE_JS: &str = include_str!("../../kalam-consumer-wasm/js/assemble.js");

/// The `const NAME = n;` lines between `// layout:begin` and `// layout:end` in assemble.js.
fn js_layout() -> Vec<(String, usize)> {
    let block = ASSEMBLE_JS
        .split("// layout:begin")
        .nth(1)
        .and_then(|rest| rest.split("// layout:end").next())
        .expect("assemble.js has a // layout:begin ... // layout:end block");
    block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line
                .strip_prefix("const ")
                .and_then(|l| l.strip_suffix(';'))
                .and_then(|l| l.split_once(" = "))
                .unwrap_or_else(|| panic!("not `const NAME = n;`: {line}"));
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            (name.to_owned(), value)
        })
        .collect()
}

#[test]
fn assemble_js_reads_this_layout() {
    let rust = [
        ("STRIDE", STRIDE),
        ("OFFSET", field::OFFSET),
        ("TIMESTAMP_MS", field::TIMESTAMP_MS),
        ("PARTITION_ID", field::PARTITION_ID),
        ("TOPIC", field::TOPIC),
        ("KEY", field::KEY),
        ("USER", field::USER),
        ("OP", field::OP),
        ("PAYLOAD_START", field::PAYLOAD_START),
        ("PAYLOAD_END", field::PAYLOAD_END),
        ("DECODE_ERROR", field::DECODE_ERROR),
        ("GROUP_ID", string::GROUP_ID),
    ];
    let js = js_layout();
    let expected: Vec<(String, usize)> = rust.iter().map(|&(n, v)| (n.to_owned(), v)).collect();
    assert_eq!(
        js, expected,
        "assemble.js layout block vs kalam_consumer_core::columns"
    );
    // The field list above names every slot of a message once (a new field changes STRIDE).
    let mut slots: Vec<usize> = rust[1..rust.len() - 1].iter().map(|&(_, v)| v).collect();
    slots.sort_unstable();
    assert_eq!(slots, (0..STRIDE).collect::<Vec<_>>());
    // Every read of a field goes through a name: `fields[f + NAME]`, never a bare number.
    let names: Vec<&str> = rust[1..rust.len() - 1].iter().map(|&(n, _)| n).collect();
    let mut reads = 0;
    for (at, _) in ASSEMBLE_JS.match_indices("fields[") {
        let index = &ASSEMBLE_JS[at + "fields[".len()..];
        let index = &index[..index.find(']').expect("closing bracket")];
        let name = index
            .strip_prefix("f + ")
            .unwrap_or_else(|| panic!("assemble.js reads fields[{index}]: use fields[f + NAME]"));
        assert!(
            names.contains(&name),
            "assemble.js reads an unknown field {name}"
        );
        reads += 1;
    }
    assert!(reads >= names.len(), "assemble.js reads every field");
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_message() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            arb_json().prop_map(|v| json!(b64(&v.to_string()))),
            ".{0,12}".prop_map(|t| json!(b64(&t))),
            "[A-Za-z0-9+/=!]{0,12}".prop_map(Value::String),
            arb_json()
        ],
        prop::option::of(".{0,8}"),
        prop::option::of(".{0,8}"),
        prop::option::of(prop_oneof![
            Just("Insert".to_owned()),
            Just("uPdAtE".to_owned()),
            ".{0,6}"
        ]),
        any::<u32>(),
    )
        .prop_map(|(payload, key, user, op, offset)| {
            let mut m = json!({ "payload": payload, "offset": offset, "topic_id": "t" });
            if let Some(key) = key {
                m["key"] = json!(key);
            }
            if let Some(user) = user {
                m["user"] = json!(user);
            }
            m["op"] = json!(op.unwrap_or_else(|| "Insert".to_owned()));
            m
        })
}

proptest! {
    #[test]
    fn columns_agree_with_the_batch_text(messages in prop::collection::vec(arb_message(), 0..8), has_more in any::<bool>()) {
        assert_same(&json!({ "messages": messages, "next_offset": 9, "has_more": has_more }).to_string());
    }

    #[test]
    fn bodies_never_panic(body in ".{0,80}") {
        let _ = decode_consume_columns(body.as_bytes(), &CTX);
    }
}
