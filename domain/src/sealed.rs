//! Free text about a person travels in events only inside [`Sealed`].
//!
//! Today the text is held as it is (`"scheme": "plain"`). Per-subject encryption and erasure
//! (crypto-shredding) add schemes to this type; no event changes shape, because every event
//! field that can hold personal text already has this type.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum Sealed {
    /// Held as written: how the domain sees text. The store encrypts it before it is written
    /// and decrypts it when events are read back.
    Plain { text: String },
    /// Encrypted with the subject's key (AES-256-GCM, the subject id as associated data).
    Aes256Gcm {
        subject: String,
        nonce: String,
        ciphertext: String,
    },
    /// The subject's key was destroyed: the text is gone for good.
    Erased,
}

impl Sealed {
    pub fn plain(text: impl Into<String>) -> Self {
        Self::Plain { text: text.into() }
    }

    /// The text, where this process can read it.
    pub fn reveal(&self) -> Option<&str> {
        match self {
            Self::Plain { text } => Some(text),
            Self::Aes256Gcm { .. } | Self::Erased => None,
        }
    }

    /// Only readable text can be blank; sealed or erased text was checked when recorded.
    pub fn is_blank(&self) -> bool {
        self.reveal().is_some_and(|t| t.trim().is_empty())
    }
}

/// Never print personal text into logs or panic messages.
impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealed(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_text() {
        let note = Sealed::plain("disclosed a new address");
        assert_eq!(format!("{note:?}"), "Sealed(..)");
    }

    #[test]
    fn serialises_with_its_scheme_so_encryption_can_be_added_without_a_new_shape() {
        let json = serde_json::to_value(Sealed::plain("x")).unwrap();
        assert_eq!(json, serde_json::json!({"scheme": "plain", "text": "x"}));
    }
}
