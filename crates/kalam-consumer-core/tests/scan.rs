//! The envelope scanner (`kalam_consumer_core::scan`) held against serde_json, which decoded
//! the envelopes before the scanner replaced it for size: same accepted texts, same string
//! contents, same decoded fields and the same error kind on generated envelopes.

mod support;

use kalam_consumer_core::response::scan_response;
use kalam_consumer_core::scan::{is_valid_json, unescape};
use kalam_consumer_core::{decode_ack_response, DecodeError, RequestContext};
use proptest::prelude::*;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use support::assemble::decode as decode_consume_response;
use support::reference::RefResponse;

const CTX: RequestContext<'static> = RequestContext {
    topic_id: "app.events",
    group_id: "g",
    partition_id: 3,
};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "\\PC{0,8}".prop_map(Value::String),
        "[\"\\\\/\u{0}-\u{1f}\u{7f}\u{e9}\u{1f600}a]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One field value: mostly well typed, sometimes null, sometimes anything.
fn field(good: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        3 => good.prop_map(Some),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => arb_json().prop_map(Some),
    ]
    .boxed()
}

fn arb_message() -> impl Strategy<Value = Value> {
    let uint = prop_oneof![
        (0u64..1 << 53).prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n))
    ]
    .boxed();
    let text = "[a-zA-Z0-9 é\"\\\\]{0,8}".prop_map(Value::String).boxed();
    let op = prop_oneof![
        Just(json!("Insert")),
        Just(json!("delete")),
        Just(json!("UPDATE")),
        Just(json!("Upsert"))
    ]
    .boxed();
    let payload = prop_oneof![
        Just(json!("eyJhIjoxfQ==")),
        Just(json!("e30=")),
        Just(json!("!!")),
        arb_json()
    ]
    .boxed();
    (
        (
            field(text.clone()),
            any::<bool>(),
            field(uint.clone()),
            field(uint.clone()),
        ),
        (
            field(payload),
            any::<bool>(),
            field(text.clone()),
            field(uint),
            any::<bool>(),
        ),
        (
            field(text),
            any::<bool>(),
            field(op),
            prop::option::of(("[a-z]{1,5}", arb_json())),
        ),
    )
        .prop_map(
            |(
                (topic, topic_alias, partition, offset),
                (payload, payload_alias, key, ts, ts_alias),
                (user, user_alias, op, extra),
            )| {
                let mut m = Map::new();
                let mut put = |name: &str, value: Option<Value>| {
                    if let Some(v) = value {
                        m.insert(name.to_owned(), v);
                    }
                };
                put(if topic_alias { "topic" } else { "topic_id" }, topic);
                put("partition_id", partition);
                put("offset", offset);
                put(if payload_alias { "value" } else { "payload" }, payload);
                put("key", key);
                put(if ts_alias { "ts" } else { "timestamp_ms" }, ts);
                put(if user_alias { "username" } else { "user" }, user);
                put("op", op);
                if let Some((name, value)) = extra {
                    m.entry(name).or_insert(value);
                }
                Value::Object(m)
            },
        )
}

fn arb_envelope() -> impl Strategy<Value = Value> {
    (
        prop_oneof![4 => prop::collection::vec(arb_message(), 0..5).prop_map(Value::Array), 1 => arb_json()],
        field((0u64..1 << 53).prop_map(|n| json!(n)).boxed()),
        field(any::<bool>().prop_map(Value::Bool).boxed()),
        any::<bool>(),
    )
        .prop_map(|(messages, next, more, with_messages)| {
            let mut m = Map::new();
            if with_messages {
                m.insert("messages".into(), messages);
            }
            if let Some(n) = next {
                m.insert("next_offset".into(), n);
            }
            if let Some(h) = more {
                m.insert("has_more".into(), h);
            }
            Value::Object(m)
        })
}

/// What the serde reference says: `Err(is_syntax)` or the parsed response.
fn reference(body: &str) -> Result<RefResponse<'_>, bool> {
    serde_json::from_str::<RefResponse<'_>>(body).map_err(|e| !e.is_data())
}

proptest! {
    #[test]
    fn accepts_exactly_what_serde_json_accepts(value in arb_json(), cut in any::<prop::sample::Index>(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
        prop_assert!(is_valid_json(&text));
        // Every proper prefix that serde_json refuses, the scanner refuses too (and vice versa).
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = &text[..end];
        prop_assert_eq!(is_valid_json(prefix), serde_json::from_str::<IgnoredAny>(prefix).is_ok(), "{:?}", prefix);
    }

    #[test]
    fn random_texts_agree_with_serde_json(text in "[\\[\\]{}\",:0-9eE.+\\- tnrufalse\\\\/]{0,16}") {
        prop_assert_eq!(is_valid_json(&text), serde_json::from_str::<IgnoredAny>(&text).is_ok(), "{:?}", text);
    }

    #[test]
    fn unescape_agrees_with_serde_json(s in "\\PC{0,12}|[\"\\\\/\u{0}-\u{1f}\u{1f600}]{0,8}", hex in prop::collection::vec(any::<u16>(), 0..3)) {
        let literal = Value::String(s.clone()).to_string();
        prop_assert_eq!(unescape(&literal).map(|c| c.into_owned()), Some(s));
        // \u escapes, including lone and paired surrogates.
        let mut literal = String::from("\"");
        for unit in hex {
            literal.push_str(&format!("\\u{unit:04X}"));
        }
        literal.push('"');
        prop_assert_eq!(unescape(&literal).map(|c| c.into_owned()), serde_json::from_str::<String>(&literal).ok(), "{}", literal);
    }

    #[test]
    fn consume_envelopes_decode_like_serde(envelope in arb_envelope(), pretty in any::<bool>()) {
        let body = if pretty { serde_json::to_string_pretty(&envelope).unwrap() } else { envelope.to_string() };
        // The envelope as the scanner reads it (exact u64s), and the whole shipped decode,
        // whose numbers are JS numbers (f64) and so only compared within 2^53.
        let ours = scan_response(body.as_bytes());
        let decoded = decode_consume_response(&body, &CTX);
        match reference(&body) {
            Err(true) => {
                prop_assert!(matches!(ours, Err(DecodeError::Malformed(_))), "{:?}", ours);
                prop_assert!(matches!(decoded, Err(DecodeError::Malformed(_))), "{:?}", decoded);
            }
            Err(false) => {
                prop_assert!(matches!(ours, Err(DecodeError::Shape(_))), "{:?}", ours);
                prop_assert!(matches!(decoded, Err(DecodeError::Shape(_))), "{:?}", decoded);
            }
            Ok(r) => {
                let messages = r.messages.unwrap_or_default();
                // serde's derive also takes `[]` for a message (all fields default); the
                // scanner refuses it. Either way the decode fails, as it must without an op.
                if messages.iter().any(|m| m.op.is_none()) {
                    prop_assert!(matches!(decoded, Err(DecodeError::Shape(_))), "{:?}", decoded);
                    return Ok(());
                }
                let ours = ours.unwrap();
                prop_assert_eq!(ours.next_offset, r.next_offset);
                prop_assert_eq!(ours.has_more, r.has_more);
                prop_assert_eq!(ours.messages.len(), messages.len());
                for (o, m) in ours.messages.iter().zip(&messages) {
                    prop_assert_eq!(o.offset, m.offset);
                    prop_assert_eq!(o.timestamp_ms, m.timestamp_ms);
                    prop_assert_eq!(o.partition_id, m.partition_id);
                    let text = |raw: Option<&[u8]>| raw.and_then(|t| serde_json::from_slice::<String>(t).ok());
                    prop_assert_eq!(text(o.topic_id), m.topic_id.and_then(|t| serde_json::from_str::<String>(t.get()).ok()));
                }
                let out = decoded.unwrap();
                let js_number = |n: u64| json!(n as f64 as u64);
                prop_assert_eq!(&out["next_offset"], &js_number(r.next_offset.unwrap_or(0)));
                prop_assert_eq!(&out["has_more"], &json!(r.has_more.unwrap_or(false)));
                let decoded = out["messages"].as_array().unwrap();
                prop_assert_eq!(decoded.len(), messages.len());
                for (d, m) in decoded.iter().zip(&messages) {
                    prop_assert_eq!(&d["offset"], &js_number(m.offset.unwrap_or(0)));
                    prop_assert_eq!(&d["timestamp_ms"], &js_number(m.timestamp_ms.unwrap_or(0)));
                    prop_assert_eq!(&d["partition_id"], &json!(m.partition_id.unwrap_or(3)));
                    let topic = m.topic_id.and_then(|t| serde_json::from_str::<String>(t.get()).ok()).unwrap_or_else(|| "app.events".into());
                    prop_assert_eq!(&d["topic"], &json!(topic));
                }
            }
        }
    }

    #[test]
    fn ack_bodies_decode_like_serde(success in field(any::<bool>().prop_map(Value::Bool).boxed()), offset in field((0u64..1 << 53).prop_map(|n| json!(n)).boxed()), extra in arb_json()) {
        #[derive(Deserialize)]
        struct RefAck {
            #[serde(default)]
            success: Option<bool>,
            #[serde(default)]
            acknowledged_offset: Option<u64>,
        }
        let mut m = Map::new();
        m.insert("other".into(), extra);
        if let Some(s) = success { m.insert("success".into(), s); }
        if let Some(o) = offset { m.insert("acknowledged_offset".into(), o); }
        let body = Value::Object(m).to_string();
        match (serde_json::from_str::<RefAck>(&body), decode_ack_response(&body, 9)) {
            (Ok(r), Ok(a)) => {
                prop_assert_eq!(a.success, r.success.unwrap_or(true));
                prop_assert_eq!(a.acknowledged_offset, r.acknowledged_offset.unwrap_or(9));
            }
            (Err(_), Err(DecodeError::Shape(_))) => {}
            (r, a) => prop_assert!(false, "serde {:?} vs scanner {:?}", r.map(|_| ()), a),
        }
    }
}

#[test]
fn scanner_edge_cases() {
    for text in [
        "",
        " ",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "\"\\x\"",
        "\"\u{1}\"",
        "nul",
        "[1] x",
        "{1:2}",
    ] {
        assert!(!is_valid_json(text), "{text:?}");
        assert!(
            serde_json::from_str::<IgnoredAny>(text).is_err(),
            "{text:?}"
        );
    }
    for text in [
        "0",
        "-0.5e+3",
        " [ ] ",
        "{\"a\":{\"b\":[null,true,false]}}",
        "\"\\ud83d\\ude00\\/\"",
    ] {
        assert!(is_valid_json(text), "{text:?}");
    }
    // u64 bounds: up to 19 digits are read without overflow checks, 20 with them.
    for (text, expected) in [
        ("0", Some(0)),
        ("9999999999999999999", Some(9_999_999_999_999_999_999)),
        ("18446744073709551615", Some(u64::MAX)),
        ("18446744073709551616", None),
        ("99999999999999999999", None),
        ("100000000000000000000", None),
    ] {
        let body = format!("{{\"next_offset\":{text}}}");
        let ours = scan_response(body.as_bytes()).map(|r| r.next_offset);
        let reference = serde_json::from_str::<RefResponse<'_>>(&body).map(|r| r.next_offset);
        assert_eq!(
            reference.as_ref().ok().copied(),
            expected.map(Some),
            "{text}"
        );
        match expected {
            Some(n) => assert_eq!(ours, Ok(Some(n))),
            None => assert!(matches!(ours, Err(DecodeError::Shape(_))), "{text}"),
        }
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(
        !is_valid_json(&deep),
        "nesting deeper than serde_json's 128 is refused"
    );
    assert!(matches!(
        decode_consume_response("{\"messages\":[],\"messages\":[]}", &CTX),
        Err(DecodeError::Shape(_))
    ));
    assert!(matches!(
        decode_consume_response(
            "{\"messages\":[{\"topic\":\"a\",\"topic_id\":\"b\",\"op\":\"Insert\"}]}",
            &CTX
        ),
        Err(DecodeError::Shape(_))
    ));
}
