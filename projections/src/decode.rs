//! Feed events read back as the domain's event types.

use cqrs_es::Aggregate;
use desist_domain::enrolment::{Enrolment, EnrolmentEvent};
use desist_domain::programme::{Programme, ProgrammeEvent};
use desist_domain::protection_order::{OrderEvent, ProtectionOrder};
use desist_domain::subject::{Subject, SubjectEvent};
use desist_domain::upcasting::read_event;
use desist_store::feed::RawFeedEvent;

/// A domain event of any aggregate. One lives for one `apply`: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Programme(ProgrammeEvent),
    Subject(SubjectEvent),
    Enrolment(EnrolmentEvent),
    Order(OrderEvent),
}

/// Decodes a feed event's stored payload by its aggregate type, upcasting it where needed;
/// `None` when the read left the payload out (a type of event the reader ignores).
pub fn decode(event: &RawFeedEvent) -> Option<Result<Decoded, String>> {
    let payload = event.payload.as_deref()?;
    let (kind, version) = (&event.event_type, &event.event_version);
    let decoded = match event.aggregate_type.as_str() {
        Programme::TYPE => read_event(kind, version, payload).map(Decoded::Programme),
        Subject::TYPE => read_event(kind, version, payload).map(Decoded::Subject),
        Enrolment::TYPE => read_event(kind, version, payload).map(Decoded::Enrolment),
        ProtectionOrder::TYPE => read_event(kind, version, payload).map(Decoded::Order),
        other => return Some(Err(format!("unknown aggregate type {other:?}"))),
    };
    Some(decoded.map_err(|e| format!("payload does not decode: {e}")))
}
