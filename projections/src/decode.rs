//! Feed events read back as the domain's event types.

use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent};
use desist_domain::programme::{Programme, ProgrammeEvent};
use desist_domain::protection_order::{OrderEvent, ProtectionOrder};
use desist_domain::subject::{Subject, SubjectEvent};
use desist_store::FeedEvent;
use serde::Deserialize;

/// A domain event of any aggregate. One lives for one `apply`: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Programme(ProgrammeEvent),
    Subject(SubjectEvent),
    Enrolment(EnrolmentEvent),
    Order(OrderEvent),
}

/// Decodes a feed event's payload by its aggregate type.
pub fn decode(event: &FeedEvent) -> Result<Decoded, String> {
    // Deserializing from a reference to the payload spares copying it.
    let payload = &event.payload;
    let decoded = match event.aggregate_type.as_str() {
        Programme::TYPE => ProgrammeEvent::deserialize(payload).map(Decoded::Programme),
        Subject::TYPE => SubjectEvent::deserialize(payload).map(Decoded::Subject),
        Enrolment::TYPE => EnrolmentEvent::deserialize(payload).map(Decoded::Enrolment),
        ProtectionOrder::TYPE => OrderEvent::deserialize(payload).map(Decoded::Order),
        other => return Err(format!("unknown aggregate type {other:?}")),
    };
    decoded.map_err(|e| format!("payload does not decode: {e}"))
}
