use crate::{Result, StoreError};

/// A value crossing the storage boundary. Both backends map onto these five shapes:
/// integers are `BIGINT`, text is `TEXT`, bytes are `BLOB`/`BYTEA`, reals are `DOUBLE`.
/// Dates are stored as ISO `TEXT` (`YYYY-MM-DD`), timestamps as RFC 3339 UTC `TEXT`,
/// booleans as `0`/`1` integers, so that ordering and equality agree on both engines.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "INTEGER",
            Value::Real(_) => "REAL",
            Value::Text(_) => "TEXT",
            Value::Blob(_) => "BLOB",
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::Int(v as i64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl From<chrono::NaiveDate> for Value {
    fn from(v: chrono::NaiveDate) -> Self {
        Value::Text(v.to_string())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        match v {
            Some(x) => x.into(),
            None => Value::Null,
        }
    }
}
impl From<&Value> for Value {
    fn from(v: &Value) -> Self {
        v.clone()
    }
}

/// Conversion out of a [`Value`].
pub trait FromValue: Sized {
    fn from_value(v: &Value, index: usize) -> Result<Self>;
}

fn type_err(index: usize, expected: &'static str, v: &Value) -> StoreError {
    StoreError::Type {
        index,
        expected,
        actual: v.type_name(),
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(*i),
            Value::Real(f) if f.fract() == 0.0 => Ok(*f as i64),
            _ => Err(type_err(index, "INTEGER", v)),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        Ok(i64::from_value(v, index)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        match v {
            Value::Int(i) => Ok(*i as f64),
            Value::Real(f) => Ok(*f),
            _ => Err(type_err(index, "REAL", v)),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(type_err(index, "TEXT", v)),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(type_err(index, "BLOB", v)),
        }
    }
}
impl FromValue for chrono::NaiveDate {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        match v {
            Value::Text(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| type_err(index, "DATE", v)),
            _ => Err(type_err(index, "DATE", v)),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value, index: usize) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other, index).map(Some),
        }
    }
}

/// One result row, materialised. Columns are read by position: `row.get::<String>(0)?`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub(crate) values: Vec<Value>,
}

impl Row {
    pub fn new(values: Vec<Value>) -> Self {
        Row { values }
    }
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T> {
        let v = self.values.get(index).ok_or(StoreError::Type {
            index,
            expected: "column",
            actual: "missing",
        })?;
        T::from_value(v, index)
    }
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}
