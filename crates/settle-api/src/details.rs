//! What a merchant attaches to a payment or an order (`description`, `customerEmail`, `metadata`), as request
//! bodies and list queries carry it.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use settle_app::payments::{Details, MetadataChange, UpdatePayment};
use settle_domain::{Metadata, details};

use crate::ApiError;

/// A create's fields: an empty description or email is none; metadata values are strings (an empty one sets
/// nothing).
pub(crate) fn create(
    description: Option<String>,
    customer_email: Option<String>,
    metadata: Option<BTreeMap<String, Value>>,
) -> Result<Details, ApiError> {
    let mut d = Details { description: description_of(description)?, customer_email: email_of(customer_email)?, ..Default::default() };
    if let Some(m) = metadata {
        let pairs = m.into_iter().map(|(k, v)| Ok((k.clone(), metadata_value(&k, v)?.unwrap_or_default()))).collect::<Result<Vec<_>, ApiError>>()?;
        d.metadata = Metadata::new("metadata", pairs).map_err(ApiError::from_domain)?;
    }
    Ok(d)
}

/// An update's fields, each `None` when absent from the body: a null or empty description or email clears it;
/// `metadata: null` removes every key, and in a metadata object a null or empty value removes its key.
pub(crate) fn update(description: Option<Value>, customer_email: Option<Value>, metadata: Option<Value>) -> Result<UpdatePayment, ApiError> {
    let field = |name: &'static str, v: Value| match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(ApiError::invalid(name, format!("{name} must be a string or null"))),
    };
    let mut u = UpdatePayment::default();
    if let Some(v) = description {
        u.description = Some(description_of(field("description", v)?)?);
    }
    if let Some(v) = customer_email {
        u.customer_email = Some(email_of(field("customerEmail", v)?)?);
    }
    u.metadata = match metadata {
        None => None,
        Some(Value::Null) => Some(MetadataChange::Clear),
        Some(Value::Object(m)) => {
            Some(MetadataChange::Merge(m.into_iter().map(|(k, v)| Ok((k.clone(), metadata_value(&k, v)?))).collect::<Result<_, ApiError>>()?))
        }
        Some(_) => return Err(ApiError::invalid("metadata", "metadata must be an object of strings, or null to remove every key")),
    };
    Ok(u)
}

fn metadata_value(key: &str, v: Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        _ => Err(ApiError::invalid("metadata", format!("the value of metadata key {key:?} must be a string"))),
    }
}

/// A field's value checked by `check`; empty is none.
fn checked(v: Option<String>, check: impl FnOnce(&str) -> Result<String, settle_domain::DomainError>) -> Result<Option<String>, ApiError> {
    v.filter(|s| !s.is_empty()).map(|s| check(&s)).transpose().map_err(ApiError::from_domain)
}

fn description_of(v: Option<String>) -> Result<Option<String>, ApiError> {
    checked(v, |s| details::description("description", s))
}

fn email_of(v: Option<String>) -> Result<Option<String>, ApiError> {
    checked(v, |s| details::email("customerEmail", s))
}

/// A list query's `metadata[key]=value` (the name as sent, percent-encoded or not): `Some((key, value))` when the
/// name is one, checked.
pub(crate) fn metadata_filter(name: &str, value: &str) -> Result<Option<(String, String)>, ApiError> {
    if !name.starts_with("metadata") {
        return Ok(None);
    }
    let name = crate::extract::percent_decode(name)
        .ok_or_else(|| ApiError::invalid("metadata", "a metadata filter's key is not valid percent-encoded UTF-8"))?;
    let Some(key) = name.strip_prefix("metadata[").and_then(|k| k.strip_suffix(']')) else {
        return Ok(None);
    };
    Metadata::check_key("metadata", key).map_err(ApiError::from_domain)?;
    if value.is_empty() {
        return Err(ApiError::invalid("metadata", format!("metadata[{key}] needs a value")));
    }
    Metadata::check_value("metadata", key, value).map_err(ApiError::from_domain)?;
    Ok(Some((key.to_owned(), value.to_owned())))
}

/// For an update's fields: present (even as null) is `Some`, absent is `None` (with `#[serde(default)]`).
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
