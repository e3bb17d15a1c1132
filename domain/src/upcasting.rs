//! Old event payloads are read through upcasters; stored events are never rewritten.
//!
//! The same list serves the aggregate loader (cqrs-es's `PersistedEventStore`) and the global
//! feed reader, so a projection and an aggregate always see the same shape of an event.

use std::sync::LazyLock;

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::enrolment::{EnrolmentEvent, SESSION_SCHEDULED_VERSION};

/// Every upcaster Desist needs, for every aggregate.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "SessionScheduled",
        SESSION_SCHEDULED_VERSION,
        Box::new(session_scheduled_v1_to_v2),
    ))]
}

/// The list, built once for the feed's readers (a projection reads every event, and building
/// the list per event was a measurable share of a rebuild).
static FEED_UPCASTERS: LazyLock<Vec<Box<dyn EventUpcaster>>> = LazyLock::new(upcasters);

/// `SessionScheduled` 1.0 predates remote delivery and has no `mode`: every session was held in
/// person, so that is what an old payload says.
fn session_scheduled_v1_to_v2(mut payload: Value) -> Value {
    if let Some(body) = payload
        .get_mut("SessionScheduled")
        .and_then(Value::as_object_mut)
    {
        body.entry("mode")
            .or_insert_with(|| Value::String("in_person".into()));
    }
    payload
}

/// Reads one stored payload as today's event, upcasting it first where needed.
pub fn upcast_enrolment_event(
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> serde_json::Result<EnrolmentEvent> {
    serde_json::from_value(upcast(event_type, event_version, payload).1)
}

/// Applies whichever upcasters claim the event and returns its current version and payload;
/// events no upcaster claims pass through unchanged.
pub fn upcast(event_type: &str, event_version: &str, payload: Value) -> (String, Value) {
    let mut serialized = cqrs_es::persist::SerializedEvent::new(
        String::new(),
        0,
        String::new(),
        event_type.to_string(),
        event_version.to_string(),
        payload,
        Value::Null,
    );
    for upcaster in FEED_UPCASTERS.iter() {
        if upcaster.can_upcast(&serialized.event_type, &serialized.event_version) {
            serialized = upcaster.upcast(serialized);
        }
    }
    (serialized.event_version, serialized.payload)
}

/// Reads one stored payload, as JSON text, as today's event: straight into the event's type
/// when no upcaster claims it (nearly always), through [`upcast`] when one does.
pub fn read_event<E: DeserializeOwned>(
    event_type: &str,
    event_version: &str,
    payload: &str,
) -> serde_json::Result<E> {
    if FEED_UPCASTERS
        .iter()
        .any(|upcaster| upcaster.can_upcast(event_type, event_version))
    {
        let stored: Value = serde_json::from_str(payload)?;
        serde_json::from_value(upcast(event_type, event_version, stored).1)
    } else {
        serde_json::from_str(payload)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::enrolment::SessionMode;

    #[test]
    fn a_version_one_session_scheduled_is_read_as_in_person() {
        let v1 = json!({"SessionScheduled": {
            "session_id": "s1", "number": 1,
            "scheduled_at": "2018-03-01T10:00:00Z", "occurred_at": "2018-02-20T09:00:00Z"
        }});
        let event = upcast_enrolment_event("SessionScheduled", "1.0", v1).unwrap();
        assert_eq!(
            event,
            EnrolmentEvent::SessionScheduled {
                session_id: "s1".into(),
                number: 1,
                scheduled_at: Utc.with_ymd_and_hms(2018, 3, 1, 10, 0, 0).unwrap(),
                mode: SessionMode::InPerson,
                occurred_at: Utc.with_ymd_and_hms(2018, 2, 20, 9, 0, 0).unwrap(),
            }
        );
    }

    #[test]
    fn a_current_session_scheduled_keeps_its_mode() {
        let v2 = json!({"SessionScheduled": {
            "session_id": "s1", "number": 1, "mode": "video",
            "scheduled_at": "2024-03-01T10:00:00Z", "occurred_at": "2024-02-20T09:00:00Z"
        }});
        let event = upcast_enrolment_event("SessionScheduled", "2.0.0", v2).unwrap();
        assert!(matches!(
            event,
            EnrolmentEvent::SessionScheduled {
                mode: SessionMode::Video,
                ..
            }
        ));
    }

    #[test]
    fn stored_text_is_read_through_the_upcaster_only_when_its_version_is_old() {
        let v1 = r#"{"SessionScheduled": {"session_id": "s1", "number": 1,
            "scheduled_at": "2018-03-01T10:00:00Z", "occurred_at": "2018-02-20T09:00:00Z"}}"#;
        let old: EnrolmentEvent = read_event("SessionScheduled", "1.0", v1).unwrap();
        assert!(matches!(
            old,
            EnrolmentEvent::SessionScheduled {
                mode: SessionMode::InPerson,
                ..
            }
        ));
        // The same text claiming today's version is read as it stands, and it lacks `mode`.
        let unclaimed =
            read_event::<EnrolmentEvent>("SessionScheduled", SESSION_SCHEDULED_VERSION, v1);
        assert!(unclaimed.is_err());
    }
}
