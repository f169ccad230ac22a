//! HTML forms generated from a programme's JSON Schema, and the submitted fields read back
//! into the JSON the schema describes.
//!
//! Rendering: [`widgets`] walks the schema (`string` with or without `format: date`, `number`,
//! `integer`, `enum`, `boolean`, nested `object`, `array` of anything) and yields a flat list of
//! [`Widget`]s a template draws; each input is named by its JSON pointer inside the command
//! body (`/form/sites/0/groups`), so the validation's pointers land beside their field.
//! Reading: [`read`] turns the fields back into JSON without judging them: an empty box is an
//! absent field, a number box that does not hold a number is sent as the text typed, so that
//! the programme's schema (the same validation as the API's) names the error. Nothing here
//! decides what is valid.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

/// The hidden field that carries an array's row count: `_rows` + the array's pointer.
pub const ROWS_PREFIX: &str = "_rows";
/// The submit button that adds a row to the array whose pointer is its value.
pub const ADD_ROW: &str = "_add_row";
/// Rows an array may have on a page.
const MAX_ROWS: usize = 200;

/// One thing a form template draws.
#[derive(Debug, Clone, Default)]
pub struct Widget {
    /// `open` / `close` (a fieldset of a nested object or an array row), `array_end` (after an
    /// array's rows: its row count and the add-row button), or an input: `text`, `date`,
    /// `integer`, `number`, `select`, `checkbox`.
    pub kind: &'static str,
    /// The JSON pointer (the input's `name`, and its `id` after `f`).
    pub name: String,
    pub id: String,
    pub label: String,
    pub value: String,
    pub required: bool,
    /// The validation's message for this field (already in the page's language).
    pub error: Option<String>,
    /// `select`: (value, label, selected).
    pub options: Vec<(String, String, bool)>,
    /// `checkbox`: checked.
    pub checked: bool,
    /// `array_end`: the number of rows drawn.
    pub rows: usize,
}

fn id_of(pointer: &str) -> String {
    let mut id = String::from("f");
    for c in pointer.chars() {
        id.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    id
}

/// The schema's type; of a `["string", "null"]` list, the one that is not null.
fn type_of(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ => "string",
    }
}

/// A `oneOf` of objects (a tagged enum, like the plan review's approve / return) drawn as one
/// object: every variant's fields, a field that tells the variants apart as one choice of all
/// their values, required only what every variant requires. The API's wire type then accepts
/// or refuses the combination sent.
fn merge_one_of(schema: &Value) -> Option<Value> {
    let variants = schema.get("oneOf")?.as_array()?;
    let mut properties = Map::new();
    let mut required: Option<Vec<Value>> = None;
    for v in variants {
        if type_of(v) != "object" {
            return None;
        }
        for (k, p) in v.get("properties").and_then(Value::as_object)? {
            match (
                properties.get_mut(k),
                p.get("enum").and_then(Value::as_array),
            ) {
                (Some(existing), Some(values)) => {
                    if let Some(all) = existing.get_mut("enum").and_then(Value::as_array_mut) {
                        all.extend(values.iter().cloned());
                    }
                }
                (Some(_), None) => {}
                (None, _) => {
                    properties.insert(k.clone(), p.clone());
                }
            }
        }
        let here: Vec<Value> = v
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        required = Some(match required {
            None => here,
            Some(before) => before.into_iter().filter(|r| here.contains(r)).collect(),
        });
    }
    let mut merged = Map::new();
    merged.insert("type".into(), Value::String("object".into()));
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert(
        "required".into(),
        Value::Array(required.unwrap_or_default()),
    );
    if let Some(t) = schema.get("title") {
        merged.insert("title".into(), t.clone());
    }
    Some(Value::Object(merged))
}

/// `schema` with every `{"$ref": "#/components/schemas/X"}` replaced by `X` from
/// `components` (the OpenAPI document's schemas), recursively.
pub fn inline_refs(schema: &Value, components: &Value, depth: usize) -> Value {
    if depth > 16 {
        return schema.clone();
    }
    match schema {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                return inline_refs(
                    components.get(name).unwrap_or(&Value::Null),
                    components,
                    depth + 1,
                );
            }
            let inlined = Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), inline_refs(v, components, depth + 1)))
                    .collect(),
            );
            merge_one_of(&inlined).unwrap_or(inlined)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| inline_refs(v, components, depth + 1))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the renderer needs besides the schema.
pub struct Render<'a> {
    /// Errors by pointer, already worded for the page.
    pub errors: &'a BTreeMap<String, String>,
    /// Extra rows requested per array pointer (the add-row button).
    pub rows: &'a HashMap<String, usize>,
    /// "Row {}" in the page's language.
    pub row_label: &'a str,
    /// The label of a field whose schema has no `title` (by its key).
    pub label: &'a dyn Fn(&str) -> String,
}

/// The widgets of `schema` at `pointer` holding `data`.
pub fn widgets(
    schema: &Value,
    pointer: &str,
    label: &str,
    required: bool,
    data: &Value,
    r: &Render<'_>,
    out: &mut Vec<Widget>,
) {
    let error = r.errors.get(pointer).cloned();
    let label = match schema.get("title").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        None => (r.label)(label),
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let current = scalar_text(data);
        let mut options = vec![(String::new(), "—".to_string(), current.is_empty())];
        options.extend(values.iter().map(|v| {
            let text = scalar_text(v);
            (text.clone(), text.clone(), text == current)
        }));
        out.push(Widget {
            kind: "select",
            name: pointer.to_string(),
            id: id_of(pointer),
            label,
            required,
            error,
            options,
            ..Default::default()
        });
        return;
    }
    match schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string")
    {
        "object" => {
            let nested = !pointer.is_empty() && pointer != "/form";
            if nested {
                out.push(Widget {
                    kind: "open",
                    name: pointer.to_string(),
                    id: id_of(pointer),
                    label: label.clone(),
                    required,
                    error: error.clone(),
                    ..Default::default()
                });
            }
            let needed: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                    widgets(
                        sub,
                        &child,
                        key,
                        needed.contains(&key.as_str()),
                        data.get(key).unwrap_or(&Value::Null),
                        r,
                        out,
                    );
                }
            }
            if nested {
                out.push(Widget {
                    kind: "close",
                    ..Default::default()
                });
            }
        }
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            let have = data.as_array().map_or(0, Vec::len);
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1) as usize;
            let rows =
                (have.max(min).max(1) + r.rows.get(pointer).copied().unwrap_or(0)).min(MAX_ROWS);
            out.push(Widget {
                kind: "open",
                name: pointer.to_string(),
                id: id_of(pointer),
                label,
                required,
                error,
                ..Default::default()
            });
            for i in 0..rows {
                let item_pointer = format!("{pointer}/{i}");
                let row_label = r.row_label.replace("{}", &(i + 1).to_string());
                let value = data.get(i).unwrap_or(&Value::Null);
                let is_object = type_of(&items) == "object";
                if is_object {
                    // The row's own legend, then its fields.
                    let mut row_schema = items.clone();
                    if let Some(o) = row_schema.as_object_mut() {
                        o.insert("title".into(), Value::String(row_label.clone()));
                    }
                    widgets(&row_schema, &item_pointer, &row_label, true, value, r, out);
                } else {
                    widgets(&items, &item_pointer, &row_label, false, value, r, out);
                }
            }
            out.push(Widget {
                kind: "array_end",
                name: pointer.to_string(),
                id: id_of(pointer),
                rows,
                ..Default::default()
            });
            out.push(Widget {
                kind: "close",
                ..Default::default()
            });
        }
        "boolean" => out.push(Widget {
            kind: "checkbox",
            name: pointer.to_string(),
            id: id_of(pointer),
            label,
            required: false,
            error,
            checked: data.as_bool().unwrap_or(false),
            ..Default::default()
        }),
        kind => {
            let kind = match kind {
                "integer" => "integer",
                "number" => "number",
                _ if schema.get("format").and_then(Value::as_str) == Some("date") => "date",
                _ => "text",
            };
            out.push(Widget {
                kind,
                name: pointer.to_string(),
                id: id_of(pointer),
                label,
                value: scalar_text(data),
                required,
                error,
                ..Default::default()
            });
        }
    }
}

/// The JSON `schema` describes, read from the submitted `fields` at `pointer`. `None`: the
/// field was left empty (absent from the JSON).
pub fn read(schema: &Value, pointer: &str, fields: &HashMap<String, String>) -> Option<Value> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let text = fields.get(pointer).filter(|t| !t.is_empty())?;
        // The enum value whose text was chosen (an integer enum stays an integer).
        return Some(
            values
                .iter()
                .find(|v| &scalar_text(v) == text)
                .cloned()
                .unwrap_or_else(|| Value::String(text.clone())),
        );
    }
    match schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string")
    {
        "object" => {
            let mut map = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    let child = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                    if let Some(v) = read(sub, &child, fields) {
                        map.insert(key.clone(), v);
                    }
                }
            }
            // An object whose fields are all empty is absent (a required one is then named).
            (!map.is_empty() || pointer.is_empty() || pointer == "/form")
                .then_some(Value::Object(map))
        }
        "array" => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            let rows = fields
                .get(&format!("{ROWS_PREFIX}{pointer}"))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
                .min(MAX_ROWS);
            let values: Vec<Value> = (0..rows)
                .filter_map(|i| read(&items, &format!("{pointer}/{i}"), fields))
                .collect();
            (!values.is_empty()).then_some(Value::Array(values))
        }
        "boolean" => Some(Value::Bool(
            fields.get(pointer).is_some_and(|v| v == "true"),
        )),
        "integer" => {
            let text = fields
                .get(pointer)
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())?;
            Some(match text.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::String(text.to_string()),
            })
        }
        "number" => {
            let text = fields
                .get(pointer)
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())?;
            Some(
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(text.to_string())),
            )
        }
        _ => {
            let text = fields.get(pointer).filter(|t| !t.trim().is_empty())?;
            Some(Value::String(text.clone()))
        }
    }
}

/// A validation message in Chinese (the validators word them in English). Known shapes are
/// translated; anything else keeps its English text after a Chinese lead-in.
pub fn reason_zh(reason: &str) -> String {
    let number_after = |marker: &str| -> Option<String> {
        reason
            .split(marker)
            .nth(1)
            .map(|rest| rest.trim().trim_end_matches('.').to_string())
    };
    if reason.contains("required field is missing") || reason.contains("is a required property") {
        "必填项，请填写".into()
    } else if reason.contains("not part of this form") {
        "本表没有此项".into()
    } else if reason.contains("is not of type \"integer\"") {
        "请填写整数".into()
    } else if reason.contains("is not of type \"number\"") {
        "请填写数字".into()
    } else if reason.contains("is not of type") {
        "填写的类型不对".into()
    } else if let Some(n) = number_after("less than the minimum of") {
        format!("不得小于 {n}")
    } else if let Some(n) = number_after("greater than the maximum of") {
        format!("不得大于 {n}")
    } else if reason.contains("is not a \"date\"") {
        "日期格式应为 年-月-日（如 2025-11-10）".into()
    } else if reason.contains("is not a \"email\"") {
        "邮箱格式不正确".into()
    } else if reason.contains("does not match") {
        "格式不正确".into()
    } else if reason.contains("is not one of") {
        "请从选项中选择".into()
    } else if reason.contains("is shorter than") || reason.contains("should be non-empty") {
        "不能为空".into()
    } else if reason.contains("has less than") || reason.contains("should have at least") {
        "行数不足".into()
    } else {
        format!("填写有误：{reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_what_it_renders() {
        let schema = json!({"type": "object", "required": ["n"], "properties": {
            "n": {"type": "integer"}, "x": {"type": "number"}, "s": {"type": "string"},
            "d": {"type": "string", "format": "date"}, "b": {"type": "boolean"},
            "e": {"enum": ["a", "b"]},
            "rows": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "o": {"type": "object", "properties": {"p": {"type": "integer"}}}}});
        let f = fields(&[
            ("/form/n", "12"),
            ("/form/x", "1.5"),
            ("/form/s", "镇"),
            ("/form/d", "2025-11-10"),
            ("/form/b", "true"),
            ("/form/e", "b"),
            ("_rows/form/rows", "2"),
            ("/form/rows/0/k", "one"),
            ("/form/rows/1/k", "two"),
            ("/form/o/p", "abc"),
        ]);
        let v = read(&schema, "/form", &f).unwrap();
        assert_eq!(
            v,
            json!({"n": 12, "x": 1.5, "s": "镇", "d": "2025-11-10", "b": true, "e": "b",
                   "rows": [{"k": "one"}, {"k": "two"}], "o": {"p": "abc"}})
        );
        // Empty boxes are absent, so the schema names the missing required field.
        let v = read(&schema, "/form", &fields(&[("/form/n", " ")])).unwrap();
        assert_eq!(v, json!({"b": false}));

        let errors = BTreeMap::from([("/form/n".to_string(), "必填项，请填写".to_string())]);
        let rows = HashMap::from([("/form/rows".to_string(), 1)]);
        let r = Render {
            errors: &errors,
            rows: &rows,
            row_label: "第{}行",
            label: &|k: &str| k.to_string(),
        };
        let mut out = Vec::new();
        widgets(
            &schema,
            "/form",
            "",
            true,
            &json!({"rows": [{"k": "one"}]}),
            &r,
            &mut out,
        );
        let n = out.iter().find(|w| w.name == "/form/n").unwrap();
        assert_eq!(
            (n.kind, n.required, n.error.as_deref()),
            ("integer", true, Some("必填项，请填写"))
        );
        let end = out.iter().find(|w| w.kind == "array_end").unwrap();
        assert_eq!(end.rows, 2, "one row held plus one added");
        assert!(out
            .iter()
            .any(|w| w.name == "/form/rows/1/k" && w.kind == "text"));
        assert!(out.iter().any(|w| w.name == "/form/d" && w.kind == "date"));
        assert!(out
            .iter()
            .any(|w| w.name == "/form/e" && w.kind == "select" && w.options.len() == 3));
    }

    #[test]
    fn a_one_of_of_objects_is_one_form() {
        let schema = json!({"type": "object", "properties": {"decision": {"$ref": "#/components/schemas/D"}}});
        let components = json!({"D": {"oneOf": [
            {"type": "object", "required": ["decision"], "properties": {
                "comment": {"type": "string"}, "decision": {"type": "string", "enum": ["approve"]}}},
            {"type": "object", "required": ["reasons", "decision"], "properties": {
                "decision": {"type": "string", "enum": ["return"]},
                "reasons": {"type": "array", "items": {"type": "string"}}}}]}});
        let merged = inline_refs(&schema, &components, 0);
        let d = &merged["properties"]["decision"];
        assert_eq!(
            d["properties"]["decision"]["enum"],
            json!(["approve", "return"])
        );
        assert_eq!(d["required"], json!(["decision"]));
        let f = fields(&[
            ("/decision/decision", "return"),
            ("_rows/decision/reasons", "1"),
            ("/decision/reasons/0", "缺少选址"),
        ]);
        assert_eq!(
            read(&merged, "", &f).unwrap(),
            json!({"decision": {"decision": "return", "reasons": ["缺少选址"]}})
        );
    }

    #[test]
    fn words_errors_in_chinese() {
        assert_eq!(reason_zh("-1 is less than the minimum of 0"), "不得小于 0");
        assert_eq!(reason_zh("\"x\" is not of type \"integer\""), "请填写整数");
        assert_eq!(reason_zh("required field is missing"), "必填项，请填写");
        assert!(reason_zh("something else").starts_with("填写有误："));
    }
}
