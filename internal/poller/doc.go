// Package poller turns what the CRM's export shows into change events: it
// compares each customer record with the one last seen and describes a real
// change as an Event, published as a CloudEvents message on
// <prefix>.customer.changed.<customer id> (CONTRACT.md, "Change events").
//
// This file set is the pure core, with no I/O:
//   - Diff names the top-level fields that differ between two records,
//     comparing JSON values (key order, whitespace and number spelling do
//     not count; absent equals null; updatedAt, updatedBy and updatedVia
//     are left out).
//   - Digest condenses exactly what Diff compares into 64 bits, so the
//     poller can tell a real change from a re-read or a touch while keeping
//     8 bytes per customer.
//   - NewEvent builds the event for a created, updated or deleted customer,
//     or reports that there is nothing to publish.
//   - Event.ID is the event's ce-id and Nats-Msg-Id, the same for the same
//     change however often it is detected, so JetStream's duplicate window
//     drops a change the poller publishes again after overlapping re-reads
//     or a restart.
//   - Message builds the NATS message.
//
// All of them are safe for concurrent use.
package poller
