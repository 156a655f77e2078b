//! What a merchant attaches to a payment or an order: [`Metadata`], a description and the customer's email.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Keys of a [`Metadata`], at most.
pub const MAX_KEYS: usize = 50;
/// Characters of a metadata key, at most.
pub const MAX_KEY_CHARS: usize = 40;
/// Characters of a metadata value, at most.
pub const MAX_VALUE_CHARS: usize = 500;
/// Bytes (UTF-8) of a [`Metadata`]'s keys and values together, at most: what a payment's answers, events and
/// recorded replies carry stays well inside every backend's TEXT column.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Characters of a description, at most.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Characters of an email address, at most (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A merchant's key-value pairs on an object: at most [`MAX_KEYS`] keys of 1 to [`MAX_KEY_CHARS`] characters
/// (no `[` or `]`, which the list's `metadata[key]=value` filter uses), values of 1 to [`MAX_VALUE_CHARS`]
/// characters, no control characters in either, at most [`MAX_METADATA_BYTES`] of keys and values together.
/// Ordered by key. A rejected value's reason reads after the field's name (`metadata holds at most ...`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// Checks a key (of a body's metadata or a list filter).
    pub fn check_key(field: &'static str, key: &str) -> Result<(), DomainError> {
        let n = key.chars().count();
        if n == 0 || n > MAX_KEY_CHARS {
            return Err(DomainError::invalid(field, format!("keys have 1 to {MAX_KEY_CHARS} characters; {key:?} has {n}")));
        }
        if key.chars().any(|c| c == '[' || c == ']' || c.is_control()) {
            return Err(DomainError::invalid(field, format!("keys have no square brackets or control characters: {key:?}")));
        }
        Ok(())
    }

    /// Checks a value.
    pub fn check_value(field: &'static str, key: &str, value: &str) -> Result<(), DomainError> {
        let n = value.chars().count();
        if n > MAX_VALUE_CHARS {
            return Err(DomainError::invalid(field, format!("values have at most {MAX_VALUE_CHARS} characters; the value of {key:?} has {n}")));
        }
        if value.chars().any(char::is_control) {
            return Err(DomainError::invalid(field, format!("values have no control characters; the value of {key:?} has one")));
        }
        Ok(())
    }

    /// The metadata of a create: every value set (an empty value sets nothing).
    pub fn new(field: &'static str, pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, DomainError> {
        let mut m = Self::default();
        m.update(field, pairs.into_iter().map(|(k, v)| (k, Some(v))))?;
        Ok(m)
    }

    /// Applies an update: `Some(value)` sets a key, `None` or an empty value removes it. The result must still
    /// hold at most [`MAX_KEYS`] keys.
    pub fn update(&mut self, field: &'static str, pairs: impl IntoIterator<Item = (String, Option<String>)>) -> Result<(), DomainError> {
        for (k, v) in pairs {
            Self::check_key(field, &k)?;
            match v {
                Some(v) if !v.is_empty() => {
                    Self::check_value(field, &k, &v)?;
                    self.0.insert(k, v);
                }
                _ => {
                    self.0.remove(&k);
                }
            }
        }
        if self.0.len() > MAX_KEYS {
            return Err(DomainError::invalid(field, format!("holds at most {MAX_KEYS} keys; this would be {}", self.0.len())));
        }
        let bytes: usize = self.0.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_METADATA_BYTES {
            return Err(DomainError::invalid(
                field,
                format!("holds at most {MAX_METADATA_BYTES} bytes of keys and values together (UTF-8); this would be {bytes}"),
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// A description: 1 to [`MAX_DESCRIPTION_CHARS`] characters (line breaks and tabs allowed, other control
/// characters not).
pub fn description(field: &'static str, s: &str) -> Result<String, DomainError> {
    let n = s.chars().count();
    if n == 0 || n > MAX_DESCRIPTION_CHARS {
        return Err(DomainError::invalid(field, format!("has 1 to {MAX_DESCRIPTION_CHARS} characters")));
    }
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(DomainError::invalid(field, "has no control characters other than line breaks and tabs"));
    }
    Ok(s.to_owned())
}

/// An email address as a receipt would be sent to: `local@domain`, the domain with a dot, no spaces or control
/// characters, at most [`MAX_EMAIL_CHARS`] characters. Kept as given.
pub fn email(field: &'static str, s: &str) -> Result<String, DomainError> {
    let bad = || DomainError::invalid(field, "must be an email address such as payer@example.com");
    if s.chars().count() > MAX_EMAIL_CHARS || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.contains('@') || domain.len() < 3 || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> Result<Metadata, DomainError> {
        Metadata::new("metadata", pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn metadata_bounds() {
        assert!(m(&[("customer", "c_1"), ("ü", "ü".repeat(500).as_str())]).is_ok());
        // 50 values of 500 four-byte characters would be 100 KB: past the byte bound.
        let wide: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "☕".repeat(500))).collect();
        assert!(Metadata::new("metadata", wide.clone().into_iter().take(10)).is_ok());
        let e = Metadata::new("metadata", wide).unwrap_err().to_string();
        assert!(e.contains("16384 bytes"), "{e}");
        assert!(m(&[("k".repeat(40).as_str(), "v")]).is_ok());
        assert!(m(&[("k".repeat(41).as_str(), "v")]).is_err());
        assert!(m(&[("", "v")]).is_err());
        assert!(m(&[("a[b]", "v")]).is_err());
        assert!(m(&[("k", "v".repeat(501).as_str())]).is_err());
        assert!(m(&[("k", "a\u{0}b")]).is_err());
        let fifty: Vec<(String, String)> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
        let mut md = Metadata::new("metadata", fifty).unwrap();
        assert!(md.clone().update("metadata", [("k50".to_string(), Some("v".to_string()))]).is_err());
        // Removing one makes room for another in the same update.
        md.update("metadata", [("k0".to_string(), None), ("k50".to_string(), Some("v".to_string()))]).unwrap();
        assert_eq!((md.get("k0"), md.get("k50")), (None, Some("v")));
        md.update("metadata", [("k1".to_string(), Some(String::new()))]).unwrap();
        assert_eq!(md.iter().count(), 49);
    }

    #[test]
    fn emails_and_descriptions() {
        for ok in ["a@b.co", "first.last+tag@example.com", "x@sub.example.org"] {
            assert_eq!(email("customerEmail", ok).unwrap(), ok);
        }
        for bad in ["", "a", "@b.co", "a@b", "a@.co", "a@co.", "a b@c.de", "a@b@c.de", &format!("{}@b.co", "a".repeat(250))] {
            assert!(email("customerEmail", bad).is_err(), "{bad}");
        }
        assert!(description("description", "two\nlines\tand a tab").is_ok());
        assert!(description("description", "").is_err());
        assert!(description("description", "bell\u{7}").is_err());
        assert!(description("description", &"d".repeat(1001)).is_err());
    }
}
