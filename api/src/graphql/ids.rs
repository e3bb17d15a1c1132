//! Opaque global ids: `base64url("Kind:id")`. Clients pass them back unchanged.

use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::errors::{error, BAD_USER_INPUT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Programme,
    Subject,
    Enrolment,
    ProtectionOrder,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Programme => "Programme",
            Self::Subject => "Subject",
            Self::Enrolment => "Enrolment",
            Self::ProtectionOrder => "ProtectionOrder",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::Programme,
            Self::Subject,
            Self::Enrolment,
            Self::ProtectionOrder,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

pub fn encode(kind: Kind, id: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.as_str())))
}

/// Any global id: its kind and the record's own id.
pub fn decode_any(id: &ID) -> Option<(Kind, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(id.as_str()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, raw) = text.split_once(':')?;
    Some((Kind::parse(kind)?, raw.to_string()))
}

/// A global id that must be of `kind`; `field` names the argument in the error.
pub fn decode(id: &ID, kind: Kind, field: &str) -> Result<String, async_graphql::Error> {
    match decode_any(id) {
        Some((k, raw)) if k == kind => Ok(raw),
        _ => Err(error(
            BAD_USER_INPUT,
            format!("{field}: not a {} id", kind.as_str()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let id = encode(Kind::Enrolment, "E-1:x");
        assert_eq!(decode_any(&id), Some((Kind::Enrolment, "E-1:x".into())));
        assert!(decode(&id, Kind::Subject, "subjectId").is_err());
        assert!(decode_any(&ID("not base64!".into())).is_none());
    }
}
