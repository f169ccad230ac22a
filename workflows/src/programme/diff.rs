//! What changed between two versions of a definition (`subsidy programmes diff`,
//! `GET /programmes/{id}/diff`): every JSON pointer whose value was added, removed or changed,
//! with the values. Objects are compared key by key and arrays index by index, down to the
//! first differing value (a value whose type changed is one change, not a subtree).

use serde::Serialize;
use serde_json::Value;

use super::forms::child;

/// One difference between two JSON documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The JSON pointer (RFC 6901) of the value.
    pub pointer: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The value in the first document (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// The value in the second document (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
}

/// Every difference from `a` to `b`, in document order (object keys sorted).
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", a, b, &mut out);
    out
}

fn walk(pointer: &str, a: &Value, b: &Value, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let at = child(pointer, key);
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => walk(&at, u, v, out),
                    (Some(u), None) => out.push(removed(at, u)),
                    (None, Some(v)) => out.push(added(at, v)),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let at = child(pointer, &i.to_string());
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(v)) => walk(&at, u, v, out),
                    (Some(u), None) => out.push(removed(at, u)),
                    (None, Some(v)) => out.push(added(at, v)),
                    (None, None) => {}
                }
            }
        }
        _ if a == b => {}
        _ => out.push(Change {
            pointer: pointer.to_string(),
            change: "changed",
            from: Some(a.clone()),
            to: Some(b.clone()),
        }),
    }
}

fn added(pointer: String, v: &Value) -> Change {
    Change {
        pointer,
        change: "added",
        from: None,
        to: Some(v.clone()),
    }
}

fn removed(pointer: String, v: &Value) -> Change {
    Change {
        pointer,
        change: "removed",
        from: Some(v.clone()),
        to: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_are_named_by_pointer_with_their_values() {
        let a = json!({"title": "a", "notice": {"min_working_days": 5}, "list": [1, 2], "x/y": 1});
        let b = json!({"title": "b", "notice": {"min_working_days": 7, "new": true}, "list": [1], "x/y": 1});
        let changes = diff(&a, &b);
        let summary: Vec<(&str, &str)> = changes
            .iter()
            .map(|c| (c.pointer.as_str(), c.change))
            .collect();
        assert_eq!(
            summary,
            [
                ("/list/1", "removed"),
                ("/notice/min_working_days", "changed"),
                ("/notice/new", "added"),
                ("/title", "changed"),
            ]
        );
        assert_eq!(changes[1].from, Some(json!(5)));
        assert_eq!(changes[1].to, Some(json!(7)));
        assert!(diff(&a, &a).is_empty());
        assert_eq!(diff(&json!({"a~b": 1}), &json!({}))[0].pointer, "/a~0b");
    }
}
