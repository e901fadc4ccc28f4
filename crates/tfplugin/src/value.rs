//! The provider-facing dynamic value: what Terraform sends and receives, decoded from and
//! encoded to msgpack/JSON by [`crate::codec`]. Resource code builds and reads
//! these; it never sees the wire encoding.

use std::collections::BTreeMap;
use std::fmt;

/// A Terraform value. Objects and maps are both keyed by attribute name or map key;
/// decoding is type-directed, so a schema `object` comes back as [`Value::Object`] and a
/// `map(...)` as [`Value::Map`] (encoding accepts either for either).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// A null value (any type).
    #[default]
    Null,
    /// A value not known until apply (Terraform's "known after apply").
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

/// A Terraform number: integers stay exact, everything else is an `f64`.
///
/// Constructors normalise integral floats that fit an `i64` into [`Number::Int`], so that
/// `Int(5) == Float(5.0)` never has to be asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// A number from a float, normalised to [`Number::Int`] when it is integral.
    pub fn from_f64(f: f64) -> Number {
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
            Number::Int(f as i64)
        } else {
            Number::Float(f)
        }
    }

    /// The number as an `i64`, if it is integral and in range.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(i),
            Number::Float(_) => None,
        }
    }

    /// The number as an `f64` (possibly rounded).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

impl Value {
    /// An object from `(name, value)` pairs. Attributes left out are filled with null when
    /// the value is encoded against its schema type.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A list of values.
    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(items.into_iter().collect())
    }

    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// An integer value.
    pub fn int(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }

    /// A float value (normalised to an integer when integral).
    pub fn float(f: f64) -> Value {
        Value::Number(Number::from_f64(f))
    }

    /// A string, or null when `None`.
    pub fn opt_string(s: Option<impl Into<String>>) -> Value {
        s.map_or(Value::Null, |s| Value::String(s.into()))
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// False for [`Value::Unknown`] (only this value itself, not nested ones).
    pub fn is_known(&self) -> bool {
        !matches!(self, Value::Unknown)
    }

    /// True if this value and everything nested in it is known.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// The attribute (object) or element (map) named `key`; `None` when absent or when this
    /// is not an object or map. A null attribute gives `Some(&Value::Null)`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) | Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// Mutable access to the attribute or map element `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        match self {
            Value::Object(m) | Value::Map(m) => m.get_mut(key),
            _ => None,
        }
    }

    /// Sets attribute (or map element) `key`. Turns a null into an empty object first;
    /// does nothing on other kinds of values.
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        if self.is_null() {
            *self = Value::Object(BTreeMap::new());
        }
        if let Value::Object(m) | Value::Map(m) = self {
            m.insert(key.into(), value);
        }
    }

    /// The attribute `key`, or null when absent (a convenience for reading objects).
    pub fn attr(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&Value::Null)
    }

    /// The string, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, if this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is a known number.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The integer, if this is an integral number.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }

    /// The elements, if this is a list or a set.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The entries, if this is a map or an object.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::float(f)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let mut v = Value::object([("a", Value::from("x")), ("n", Value::Null)]);
        assert_eq!(v.get("a").and_then(Value::as_str), Some("x"));
        assert!(v.attr("n").is_null());
        assert!(v.attr("missing").is_null());
        assert!(v.get("missing").is_none());
        v.set("u", Value::Unknown);
        assert!(!v.is_wholly_known());
        assert_eq!(Value::float(3.0), Value::int(3));
        assert_eq!(Value::float(2.5).as_i64(), None);
    }
}
