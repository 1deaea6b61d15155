//! The legacy payload envelope `{ "row": { ... } }` (§7.3, row extraction).
//!
//! Older producers wrapped the row in an object under `row`. The rule, shared with the wasm
//! export `unwrapLegacyRow`: when the payload is an object whose `row` property is itself an
//! object (not an array, not null), the row is that inner object; any other payload is the
//! row as it is.

use serde_json::Value;

/// The inner row of a legacy envelope, borrowed, or `None` when `payload` is not one.
pub fn legacy_row(payload: &Value) -> Option<&Value> {
    match payload.as_object()?.get("row")? {
        inner @ Value::Object(_) => Some(inner),
        _ => None,
    }
}

/// Unwraps a legacy `{ "row": {...} }` envelope; returns any other payload unchanged.
///
/// ```
/// use kalam_consumer_core::unwrap_legacy_row;
/// use serde_json::json;
/// assert_eq!(unwrap_legacy_row(json!({"row": {"id": 1}})), json!({"id": 1}));
/// assert_eq!(unwrap_legacy_row(json!({"row": 5})), json!({"row": 5}));
/// ```
pub fn unwrap_legacy_row(payload: Value) -> Value {
    match payload {
        Value::Object(mut map) if matches!(map.get("row"), Some(Value::Object(_))) => {
            map.remove("row").unwrap_or(Value::Null)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn unwraps_object_rows_only() {
        assert_eq!(unwrap_legacy_row(json!({"row": {"a": 1}})), json!({"a": 1}));
        assert_eq!(
            unwrap_legacy_row(json!({"row": {"a": 1}, "extra": 2})),
            json!({"a": 1})
        );
        assert_eq!(unwrap_legacy_row(json!({"row": {}})), json!({}));
        for same in [
            json!({"row": [1, 2]}),
            json!({"row": null}),
            json!({"row": "text"}),
            json!({"row": 3}),
            json!({"id": 1}),
            json!([{"row": {}}]),
            json!("row"),
            json!(null),
            json!(7),
        ] {
            assert_eq!(unwrap_legacy_row(same.clone()), same);
            assert_eq!(legacy_row(&same), None);
        }
        assert_eq!(
            legacy_row(&json!({"row": {"a": 1}})),
            Some(&json!({"a": 1}))
        );
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(row|[a-z]{1,3})", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn unwrap_agrees_with_legacy_row(payload in arb_json()) {
            let expected = legacy_row(&payload).cloned().unwrap_or_else(|| payload.clone());
            prop_assert_eq!(unwrap_legacy_row(payload), expected);
        }

        #[test]
        fn wrapping_an_object_unwraps_to_it(row in prop::collection::btree_map("[a-z]{1,4}", any::<i32>(), 0..5)) {
            let row = json!(row);
            prop_assert_eq!(unwrap_legacy_row(json!({ "row": row.clone() })), row);
        }
    }
}
