//! Feed events read back as the domain's event types.

use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent};
use desist_domain::programme::{Programme, ProgrammeEvent};
use desist_domain::protection_order::{OrderEvent, ProtectionOrder};
use desist_domain::subject::{Subject, SubjectEvent};
use desist_store::FeedEvent;

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
    let payload = event.payload.clone();
    let decoded = match event.aggregate_type.as_str() {
        Programme::TYPE => serde_json::from_value(payload).map(Decoded::Programme),
        Subject::TYPE => serde_json::from_value(payload).map(Decoded::Subject),
        Enrolment::TYPE => serde_json::from_value(payload).map(Decoded::Enrolment),
        ProtectionOrder::TYPE => serde_json::from_value(payload).map(Decoded::Order),
        other => return Err(format!("unknown aggregate type {other:?}")),
    };
    decoded.map_err(|e| format!("payload does not decode: {e}"))
}
