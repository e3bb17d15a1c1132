//! Reads a JSON document field by field, collecting every problem with its JSON path instead
//! of stopping at the first (serde stops at the first error; an importer must list them all).

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One thing wrong with the document, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// An object in the document, with its path.
pub struct Obj<'a> {
    map: Option<&'a Map<String, Value>>,
    pub path: String,
}

impl<'a> Obj<'a> {
    /// `value` at `path`, which must be an object.
    pub fn new(value: &'a Value, path: impl Into<String>, problems: &mut Problems) -> Self {
        let path = path.into();
        let map = value.as_object();
        if map.is_none() {
            problems.add(&path, "must be an object");
        }
        Self { map, path }
    }

    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`; `null` and a missing key mean the same.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    fn required(&self, key: &str, problems: &mut Problems) -> Option<&'a Value> {
        let value = self.get(key);
        if value.is_none() && self.map.is_some() {
            problems.add(self.at(key), "is required");
        }
        value
    }

    pub fn string(&self, key: &str, problems: &mut Problems) -> Option<String> {
        let value = self.required(key, problems)?;
        self.as_string(key, value, problems)
    }

    pub fn opt_string(&self, key: &str, problems: &mut Problems) -> Option<String> {
        let value = self.get(key)?;
        self.as_string(key, value, problems)
    }

    fn as_string(&self, key: &str, value: &Value, problems: &mut Problems) -> Option<String> {
        match value.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_string()),
            Some(_) => {
                problems.add(self.at(key), "must not be blank");
                None
            }
            None => {
                problems.add(self.at(key), "must be a string");
                None
            }
        }
    }

    pub fn bool(&self, key: &str, problems: &mut Problems) -> Option<bool> {
        let value = self.required(key, problems)?;
        let b = value.as_bool();
        if b.is_none() {
            problems.add(self.at(key), "must be true or false");
        }
        b
    }

    pub fn opt_bool(&self, key: &str, problems: &mut Problems) -> Option<bool> {
        let value = self.get(key)?;
        let b = value.as_bool();
        if b.is_none() {
            problems.add(self.at(key), "must be true or false");
        }
        b
    }

    /// A whole number in `range`.
    pub fn int<T: TryFrom<i64>>(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        problems: &mut Problems,
    ) -> Option<T> {
        let value = self.required(key, problems)?;
        match value.as_i64() {
            Some(n) if range.contains(&n) => T::try_from(n).ok(),
            Some(_) => {
                problems.add(
                    self.at(key),
                    format!("must be between {} and {}", range.start(), range.end()),
                );
                None
            }
            None => {
                problems.add(self.at(key), "must be a whole number");
                None
            }
        }
    }

    pub fn date(&self, key: &str, problems: &mut Problems) -> Option<NaiveDate> {
        let value = self.required(key, problems)?;
        self.as_date(key, value, problems)
    }

    pub fn opt_date(&self, key: &str, problems: &mut Problems) -> Option<NaiveDate> {
        let value = self.get(key)?;
        self.as_date(key, value, problems)
    }

    fn as_date(&self, key: &str, value: &Value, problems: &mut Problems) -> Option<NaiveDate> {
        let parsed = value
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        if parsed.is_none() {
            problems.add(
                self.at(key),
                format!("must be a date YYYY-MM-DD, got {value}"),
            );
        }
        parsed
    }

    pub fn datetime(&self, key: &str, problems: &mut Problems) -> Option<DateTime<Utc>> {
        let value = self.required(key, problems)?;
        let parsed = value
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc));
        if parsed.is_none() {
            problems.add(
                self.at(key),
                format!("must be an RFC 3339 date-time, got {value}"),
            );
        }
        parsed
    }

    /// One of the values of a snake_case enum.
    pub fn choice<T: DeserializeOwned>(&self, key: &str, problems: &mut Problems) -> Option<T> {
        let value = self.required(key, problems)?;
        self.as_choice(key, value, problems)
    }

    pub fn opt_choice<T: DeserializeOwned>(&self, key: &str, problems: &mut Problems) -> Option<T> {
        let value = self.get(key)?;
        self.as_choice(key, value, problems)
    }

    fn as_choice<T: DeserializeOwned>(
        &self,
        key: &str,
        value: &Value,
        problems: &mut Problems,
    ) -> Option<T> {
        match serde_json::from_value(value.clone()) {
            Ok(v) => Some(v),
            Err(_) => {
                problems.add(self.at(key), format!("unknown value {value}"));
                None
            }
        }
    }

    /// The items of an array (a missing array is empty).
    pub fn array(&self, key: &str, problems: &mut Problems) -> Vec<(String, &'a Value)> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        match value.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}[{i}]", self.at(key)), v))
                .collect(),
            None => {
                problems.add(self.at(key), "must be an array");
                Vec::new()
            }
        }
    }

    /// A nested object, if present.
    pub fn opt_object(&self, key: &str, problems: &mut Problems) -> Option<Obj<'a>> {
        let value = self.get(key)?;
        Some(Obj::new(value, self.at(key), problems))
    }

    pub fn object(&self, key: &str, problems: &mut Problems) -> Option<Obj<'a>> {
        let value = self.required(key, problems)?;
        Some(Obj::new(value, self.at(key), problems))
    }
}
