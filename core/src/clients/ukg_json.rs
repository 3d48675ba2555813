//! How UKG's JSON reads: scalars read leniently as text (UKG sends numbers, booleans or
//! padded strings for the same field, depending on the tenant), and list pages parsed row
//! by row so one unreadable row is set aside instead of failing the page. Shared by the
//! UKG client (`ukg`) and the roster read (`roster_read`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A JSON scalar as text: strings trimmed, numbers and booleans printed.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub(crate) fn into_text(self) -> Option<String> {
        let s = match self {
            Scalar::Str(s) => s.trim().to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        };
        (!s.is_empty()).then_some(s)
    }
}

/// `null`, `""` and whitespace become None.
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Scalar>::deserialize(d)?.and_then(Scalar::into_text))
}

/// One row of a list page: read, or set aside with why.
#[derive(Debug)]
pub enum Row<T> {
    /// The row as hrsync reads it.
    Read(T),
    /// The row could not be read as one.
    Unreadable(BadRow),
}

/// A row that could not be read, with its ids when those could be.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub company_id: Option<String>,
    pub employee_id: Option<String>,
    /// What is wrong with it (a field name and what it held; never its value).
    pub reason: String,
}

/// The ids of a row, read leniently from a row that does not read as a whole.
#[derive(Deserialize)]
struct RowIds {
    #[serde(default, rename = "companyID", alias = "companyId", deserialize_with = "ids_text")]
    company_id: Option<String>,
    #[serde(default, rename = "employeeID", alias = "employeeId", deserialize_with = "ids_text")]
    employee_id: Option<String>,
}

fn ids_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(opt_text(d).unwrap_or(None))
}

/// Parses a list body row by row. The whole array is read in one go when every row reads
/// (the usual case, no extra cost); only a page with a bad row is read again as JSON values,
/// each row on its own. Syntax errors (a truncated body) and a body that is not an array
/// stay errors.
pub fn parse_rows<T: DeserializeOwned>(body: &[u8]) -> Result<Vec<Row<T>>, serde_json::Error> {
    match serde_json::from_slice::<Vec<T>>(body) {
        Ok(rows) => Ok(rows.into_iter().map(Row::Read).collect()),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            let values: Vec<Value> = serde_json::from_slice(body)?;
            Ok(values.into_iter().map(row_of).collect())
        }
        Err(e) => Err(e),
    }
}

fn row_of<T: DeserializeOwned>(value: Value) -> Row<T> {
    match T::deserialize(&value) {
        Ok(t) => Row::Read(t),
        Err(e) => {
            let ids = RowIds::deserialize(&value).ok();
            Row::Unreadable(BadRow {
                company_id: ids.as_ref().and_then(|i| i.company_id.clone()),
                employee_id: ids.and_then(|i| i.employee_id),
                reason: why_unreadable::<T>(&value, &e),
            })
        }
    }
}

/// Names the field that spoils a row: the first whose removal lets the row read (a bad row
/// is rare; its fields are tried one by one). Falls back to the parser's message.
fn why_unreadable<T: DeserializeOwned>(value: &Value, error: &serde_json::Error) -> String {
    let Value::Object(fields) = value else {
        return format!("the row is {}, not an object", kind(value));
    };
    for (name, field) in fields {
        let mut without = fields.clone();
        without.remove(name);
        if T::deserialize(&Value::Object(without)).is_ok() {
            return format!("field {name} holds {} where text was expected", kind(field));
        }
    }
    format!("{error}")
}

/// What kind of JSON value this is, for a reason (never the value: it may be sensitive).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
