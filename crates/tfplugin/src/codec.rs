//! The DynamicValue codec: msgpack (Terraform's wire format for values) and JSON (only for
//! raw state in `UpgradeResourceState`) to and from [`Value`], directed by the schema type.
//!
//! Facts: unknown values are msgpack extension values (Terraform sends type 0, or type 12
//! carrying refinements; any extension decodes as unknown and we send type 0); null is
//! msgpack nil; objects and maps are msgpack maps, lists and sets arrays; numbers are
//! integers, floats or (when huge) decimal strings. Objects must carry every attribute of
//! their type, so encoding fills attributes the value leaves out with null.

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::diag::{AttrPath, PathStep};
use super::schema::AttrType;
use super::value::{Number, Value};

/// A value that does not fit its type, or bytes that are not a value.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", at(.path))]
pub struct CodecError {
    /// Where in the value the problem is (empty for the whole value).
    pub path: AttrPath,
    pub message: String,
}

fn at(path: &AttrPath) -> String {
    if path.0.is_empty() {
        String::new()
    } else {
        format!("at {path}: ")
    }
}

fn err(path: &[PathStep], message: impl Into<String>) -> CodecError {
    CodecError {
        path: AttrPath(path.to_vec()),
        message: message.into(),
    }
}

/// Runs `convert` on the part of a value at `step` below `path` (so its errors say where).
fn within<T>(
    path: &mut Vec<PathStep>,
    step: PathStep,
    convert: impl FnOnce(&mut Vec<PathStep>) -> Result<T, CodecError>,
) -> Result<T, CodecError> {
    path.push(step);
    let out = convert(path);
    path.pop();
    out
}

/// Converts the elements of a list or set, each at its index below `path`.
fn elements<T, U>(
    items: impl IntoIterator<Item = T>,
    path: &mut Vec<PathStep>,
    mut convert: impl FnMut(T, &mut Vec<PathStep>) -> Result<U, CodecError>,
) -> Result<Vec<U>, CodecError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| within(path, PathStep::Index(i as i64), |path| convert(item, path)))
        .collect()
}

/// Decodes a map's entries: each key read by `key`, each value at its key below `path`.
fn map<K, T>(
    entries: impl IntoIterator<Item = (K, T)>,
    path: &mut Vec<PathStep>,
    mut key: impl FnMut(K, &[PathStep]) -> Result<String, CodecError>,
    mut decode: impl FnMut(T, &mut Vec<PathStep>) -> Result<Value, CodecError>,
) -> Result<Value, CodecError> {
    let mut out = BTreeMap::new();
    for (k, part) in entries {
        let k = key(k, path)?;
        let v = within(path, PathStep::Key(k.clone()), |path| decode(part, path))?;
        out.insert(k, v);
    }
    Ok(Value::Map(out))
}

/// Decodes an object of the attributes `attrs`, in their order: the part `given` for each
/// (at its attribute below `path`), null where none is given.
fn object<T>(
    attrs: &[(String, AttrType)],
    path: &mut Vec<PathStep>,
    mut given: impl FnMut(&str) -> Option<T>,
    mut decode: impl FnMut(T, &AttrType, &mut Vec<PathStep>) -> Result<Value, CodecError>,
) -> Result<Value, CodecError> {
    let mut out = BTreeMap::new();
    for (name, aty) in attrs {
        let v = match given(name) {
            Some(part) => within(path, PathStep::Attribute(name.clone()), |path| {
                decode(part, aty, path)
            })?,
            None => Value::Null,
        };
        out.insert(name.clone(), v);
    }
    Ok(Value::Object(out))
}

/// Decoded elements as the list or set `ty` is.
fn list_or_set(ty: &AttrType, items: Vec<Value>) -> Value {
    if matches!(ty, AttrType::Set(_)) {
        Value::Set(items)
    } else {
        Value::List(items)
    }
}

fn type_name(ty: &AttrType) -> &'static str {
    match ty {
        AttrType::String => "string",
        AttrType::Bool => "bool",
        AttrType::Number => "number",
        AttrType::List(_) => "list",
        AttrType::Set(_) => "set",
        AttrType::Map(_) => "map",
        AttrType::Object(_) => "object",
    }
}

/// Decodes msgpack bytes as a value of type `ty`. Empty bytes decode as null.
pub fn from_msgpack(bytes: &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut rd = bytes;
    let mp =
        rmpv::decode::read_value(&mut rd).map_err(|e| err(&[], format!("bad msgpack: {e}")))?;
    let mut path = Vec::new();
    mp_to_value(mp, ty, &mut path)
}

fn mp_to_value(mp: Mp, ty: &AttrType, path: &mut Vec<PathStep>) -> Result<Value, CodecError> {
    let mismatch = |path: &[PathStep], got: &Mp| {
        err(
            path,
            format!("expected {}, got msgpack {got}", type_name(ty)),
        )
    };
    Ok(match (mp, ty) {
        (Mp::Ext(..), _) => Value::Unknown,
        (Mp::Nil, _) => Value::Null,
        (Mp::String(s), AttrType::String) => match s.into_str() {
            Some(s) => Value::String(s),
            None => return Err(err(path, "string is not UTF-8")),
        },
        (Mp::Boolean(b), AttrType::Bool) => Value::Bool(b),
        (Mp::Integer(i), AttrType::Number) => Value::Number(match i.as_i64() {
            Some(i) => Number::Int(i),
            None => Number::from_f64(i.as_f64().unwrap_or(f64::NAN)),
        }),
        (Mp::F64(f), AttrType::Number) => Value::float(f),
        (Mp::F32(f), AttrType::Number) => Value::float(f64::from(f)),
        (Mp::String(s), AttrType::Number) => parse_number(s.as_str().unwrap_or_default(), path)?,
        (Mp::Array(items), AttrType::List(elem) | AttrType::Set(elem)) => {
            let items = elements(items, path, |item, path| mp_to_value(item, elem, path))?;
            list_or_set(ty, items)
        }
        (Mp::Map(entries), AttrType::Map(elem)) => {
            map(entries, path, mp_key, |v, path| mp_to_value(v, elem, path))?
        }
        (Mp::Map(entries), AttrType::Object(attrs)) => {
            let mut given = BTreeMap::new();
            for (k, v) in entries {
                given.insert(mp_key(k, path)?, v);
            }
            object(attrs, path, |name| given.remove(name), mp_to_value)?
        }
        (other, _) => return Err(mismatch(path, &other)),
    })
}

fn mp_key(k: Mp, path: &[PathStep]) -> Result<String, CodecError> {
    match k {
        Mp::String(s) => s
            .into_str()
            .ok_or_else(|| err(path, "map key is not UTF-8")),
        other => Err(err(path, format!("map key is not a string: {other}"))),
    }
}

/// A number sent as a decimal string (how huge numbers travel).
fn parse_number(text: &str, path: &[PathStep]) -> Result<Value, CodecError> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::int(i));
    }
    text.parse::<f64>()
        .map(Value::float)
        .map_err(|_| err(path, format!("{text:?} is not a number")))
}

/// Encodes `value` as msgpack for type `ty`: objects get every attribute of the type (null
/// when the value leaves it out); an attribute the type does not have is an error.
pub fn to_msgpack(value: &Value, ty: &AttrType) -> Result<Vec<u8>, CodecError> {
    let mut path = Vec::new();
    let mp = value_to_mp(value, ty, &mut path)?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp).map_err(|e| err(&[], e.to_string()))?;
    Ok(out)
}

fn value_to_mp(value: &Value, ty: &AttrType, path: &mut Vec<PathStep>) -> Result<Mp, CodecError> {
    Ok(match (value, ty) {
        (Value::Unknown, _) => Mp::Ext(0, vec![0]),
        (Value::Null, _) => Mp::Nil,
        (Value::String(s), AttrType::String) => Mp::from(s.as_str()),
        (Value::Bool(b), AttrType::Bool) => Mp::Boolean(*b),
        (Value::Number(Number::Int(i)), AttrType::Number) => Mp::from(*i),
        (Value::Number(Number::Float(f)), AttrType::Number) => Mp::F64(*f),
        (Value::List(items) | Value::Set(items), AttrType::List(elem) | AttrType::Set(elem)) => {
            Mp::Array(elements(items, path, |item, path| {
                value_to_mp(item, elem, path)
            })?)
        }
        (Value::Map(m) | Value::Object(m), AttrType::Map(elem)) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                let v = within(path, PathStep::Key(k.clone()), |path| {
                    value_to_mp(v, elem, path)
                })?;
                out.push((Mp::from(k.as_str()), v));
            }
            Mp::Map(out)
        }
        (Value::Map(m) | Value::Object(m), AttrType::Object(attrs)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.iter().any(|(n, _)| n == *k)) {
                return Err(err(path, format!("unexpected attribute {extra:?}")));
            }
            let mut out = Vec::with_capacity(attrs.len());
            for (name, aty) in attrs {
                let v = match m.get(name) {
                    Some(v) => within(path, PathStep::Attribute(name.clone()), |path| {
                        value_to_mp(v, aty, path)
                    })?,
                    None => Mp::Nil,
                };
                out.push((Mp::from(name.as_str()), v));
            }
            Mp::Map(out)
        }
        (v, _) => {
            return Err(err(
                path,
                format!("expected {}, got {}", type_name(ty), kind(v)),
            ));
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
    }
}

/// Decodes JSON (as stored in Terraform state) as a value of type `ty`. Object attributes
/// missing from the JSON become null and attributes the type lacks are dropped, so state
/// written by an older schema with the same version still decodes.
pub fn from_json(json: &serde_json::Value, ty: &AttrType) -> Result<Value, CodecError> {
    let mut path = Vec::new();
    json_to_value(json, ty, &mut path)
}

/// Parses JSON bytes and decodes them as [`from_json`] does.
pub fn from_json_bytes(bytes: &[u8], ty: &AttrType) -> Result<Value, CodecError> {
    let json: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| err(&[], format!("bad JSON: {e}")))?;
    from_json(&json, ty)
}

fn json_to_value(
    json: &serde_json::Value,
    ty: &AttrType,
    path: &mut Vec<PathStep>,
) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    Ok(match (json, ty) {
        (J::Null, _) => Value::Null,
        (J::String(s), AttrType::String) => Value::String(s.clone()),
        (J::Number(n), AttrType::String) => Value::String(n.to_string()),
        (J::Bool(b), AttrType::String) => Value::String(b.to_string()),
        (J::Bool(b), AttrType::Bool) => Value::Bool(*b),
        (J::String(s), AttrType::Bool) if s == "true" || s == "false" => Value::Bool(s == "true"),
        (J::Number(n), AttrType::Number) => match n.as_i64() {
            Some(i) => Value::int(i),
            None => Value::float(n.as_f64().unwrap_or(f64::NAN)),
        },
        (J::String(s), AttrType::Number) => parse_number(s, path)?,
        (J::Array(items), AttrType::List(elem) | AttrType::Set(elem)) => {
            let items = elements(items, path, |item, path| json_to_value(item, elem, path))?;
            list_or_set(ty, items)
        }
        (J::Object(m), AttrType::Map(elem)) => map(
            m,
            path,
            |k, _| Ok(k.clone()),
            |v, path| json_to_value(v, elem, path),
        )?,
        (J::Object(m), AttrType::Object(attrs)) => {
            object(attrs, path, |name| m.get(name), json_to_value)?
        }
        (other, _) => {
            return Err(err(
                path,
                format!("expected {}, got JSON {other}", type_name(ty)),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty() -> AttrType {
        AttrType::object([
            ("id", AttrType::String),
            ("n", AttrType::Number),
            ("ok", AttrType::Bool),
            ("tags", AttrType::map(AttrType::String)),
            (
                "steps",
                AttrType::list(AttrType::object([("name", AttrType::String)])),
            ),
            ("ids", AttrType::set(AttrType::Number)),
        ])
    }

    #[test]
    fn msgpack_round_trip_fills_nulls() {
        let v = Value::object([
            ("id", Value::from("abc")),
            ("n", Value::float(1.5)),
            ("tags", Value::map([("k", Value::from("v"))])),
            (
                "steps",
                Value::list([Value::object([("name", Value::Unknown)])]),
            ),
            ("ids", Value::Set(vec![Value::int(-3), Value::int(7)])),
        ]);
        let bytes = to_msgpack(&v, &ty()).unwrap();
        let back = from_msgpack(&bytes, &ty()).unwrap();
        assert_eq!(back.attr("id").as_str(), Some("abc"));
        assert!(back.attr("ok").is_null());
        assert_eq!(back.attr("n"), &Value::float(1.5));
        assert_eq!(back.attr("tags").attr("k").as_str(), Some("v"));
        assert_eq!(
            back.attr("steps").as_list().unwrap()[0].attr("name"),
            &Value::Unknown
        );
        assert_eq!(
            back.attr("ids"),
            &Value::Set(vec![Value::int(-3), Value::int(7)])
        );
        // every attribute present on the wire
        let mp = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        assert_eq!(mp.as_map().unwrap().len(), 6);
    }

    #[test]
    fn unknown_is_ext_and_any_ext_decodes_unknown() {
        let bytes = to_msgpack(&Value::Unknown, &AttrType::String).unwrap();
        assert_eq!(bytes, [0xd4, 0, 0]);
        // refined unknown (ext 12 with a payload)
        let mut refined = Vec::new();
        rmpv::encode::write_value(&mut refined, &Mp::Ext(12, vec![0x81, 0x01, 0xc3])).unwrap();
        assert_eq!(
            from_msgpack(&refined, &AttrType::String).unwrap(),
            Value::Unknown
        );
    }

    #[test]
    fn type_errors_carry_paths() {
        let v = Value::object([(
            "steps",
            Value::list([Value::object([("name", Value::int(1))])]),
        )]);
        let e = to_msgpack(&v, &ty()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at steps[0].name: expected string, got number"
        );
        let e = to_msgpack(&Value::object([("nope", Value::Null)]), &ty()).unwrap_err();
        assert!(e.to_string().contains("unexpected attribute \"nope\""));
    }

    #[test]
    fn json_state() {
        let json =
            br#"{"id":"x","n":3,"ok":true,"tags":{"a":"b"},"steps":[{"name":"fetch"}],"gone":1}"#;
        let v = from_json_bytes(json, &ty()).unwrap();
        assert_eq!(v.attr("n"), &Value::int(3));
        assert!(v.attr("ids").is_null());
        assert!(v.get("gone").is_none());
        assert_eq!(
            v.attr("steps").as_list().unwrap()[0].attr("name").as_str(),
            Some("fetch")
        );
    }

    #[test]
    fn numbers() {
        for (mp, want) in [
            (Mp::from(u64::MAX), Value::float(u64::MAX as f64)),
            (Mp::F32(2.0), Value::int(2)),
            (
                Mp::from("12345678901234567890123"),
                Value::float(1.2345678901234568e22),
            ),
        ] {
            let mut b = Vec::new();
            rmpv::encode::write_value(&mut b, &mp).unwrap();
            assert_eq!(from_msgpack(&b, &AttrType::Number).unwrap(), want);
        }
    }
}
