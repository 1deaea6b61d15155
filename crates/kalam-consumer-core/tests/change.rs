//! Change normalisation (unit + property tests).

use kalam_consumer_core::{normalize_change, Change, ChangeError, TopicOp, WireMessage};
use proptest::prelude::*;
use serde_json::{json, Value};

fn message(payload: Option<Value>, user: Option<&str>, op: &str) -> WireMessage {
    WireMessage {
        topic: "app.events".into(),
        group_id: "g".into(),
        partition_id: 1,
        offset: 9,
        key: Some("42".into()),
        timestamp_ms: 1730000000123,
        user: user.map(Into::into),
        op: op.into(),
        payload,
        decode_error: None,
        raw_payload: None,
    }
}

#[test]
fn a_full_message_becomes_a_change() {
    let change =
        normalize_change(message(Some(json!({"id": "42"})), Some("alice"), "Insert")).unwrap();
    assert_eq!(
        change,
        Change {
            data: json!({"id": "42"}),
            user: "alice".into(),
            op: TopicOp::Insert,
            key: Some("42".into()),
            timestamp_ms: 1730000000123,
            partition_id: 1,
            offset: 9,
            topic: "app.events".into(),
            group_id: "g".into(),
        }
    );
}

#[test]
fn legacy_rows_are_unwrapped() {
    let change = normalize_change(message(
        Some(json!({"row": {"id": 1}})),
        Some("u"),
        "update",
    ))
    .unwrap();
    assert_eq!(change.data, json!({"id": 1}));
    assert_eq!(change.op, TopicOp::Update);
}

#[test]
fn missing_user_is_invalid_metadata() {
    assert_eq!(
        normalize_change(message(Some(json!({})), None, "Delete")),
        Err(ChangeError::MissingUser { offset: 9 })
    );
}

#[test]
fn unknown_op_is_an_error() {
    assert_eq!(
        normalize_change(message(Some(json!({})), Some("u"), "Upsert")),
        Err(ChangeError::UnknownOp {
            offset: 9,
            op: "Upsert".into()
        })
    );
}

#[test]
fn undecodable_payloads_are_errors_not_empty_rows() {
    let mut m = message(None, Some("u"), "Insert");
    m.decode_error = Some("payload is not valid base64".into());
    m.raw_payload = Some("###".into());
    assert_eq!(
        normalize_change(m),
        Err(ChangeError::Undecodable {
            offset: 9,
            reason: "payload is not valid base64".into()
        })
    );
    assert!(matches!(
        normalize_change(message(None, Some("u"), "Insert")),
        Err(ChangeError::Undecodable { .. })
    ));
}

#[test]
fn op_names() {
    for op in [TopicOp::Insert, TopicOp::Update, TopicOp::Delete] {
        assert_eq!(TopicOp::parse(op.as_str()), Some(op));
        assert_eq!(TopicOp::parse(&op.as_str().to_lowercase()), Some(op));
        assert_eq!(serde_json::to_value(op).unwrap(), json!(op.as_str()));
    }
    assert_eq!(TopicOp::parse("nope"), None);
}

proptest! {
    #[test]
    fn metadata_is_carried_over(offset in any::<u64>(), partition in any::<u32>(), ts in any::<u64>(), user in ".{0,8}", key in proptest::option::of(".{0,8}"), v in any::<i64>()) {
        let mut m = message(Some(json!({ "v": v })), Some(&user), "Delete");
        m.offset = offset;
        m.partition_id = partition;
        m.timestamp_ms = ts;
        m.key = key.clone();
        let change = normalize_change(m).unwrap();
        prop_assert_eq!(change.offset, offset);
        prop_assert_eq!(change.partition_id, partition);
        prop_assert_eq!(change.timestamp_ms, ts);
        prop_assert_eq!(change.user, user);
        prop_assert_eq!(change.key, key);
        prop_assert_eq!(change.data, json!({ "v": v }));
    }
}
