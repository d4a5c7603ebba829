// Package poller turns what the CRM's export shows into change events: it
// compares each customer record with the one last seen and publishes each
// real change as a CloudEvents message on
// <prefix>.customer.changed.<customer id> (docs/contract.md, "Change events";
// docs/poller.md explains the design).
//
// The pure core, with no I/O:
//   - Diff names the top-level fields that differ between two records,
//     comparing JSON values (key order, whitespace and number spelling do
//     not count; absent equals null; updatedAt, updatedBy and updatedVia
//     are left out).
//   - Digest condenses exactly what Diff compares into 64 bits.
//   - NewEvent builds the event for a created, updated or deleted customer,
//     or reports that there is nothing to publish.
//   - Event.ID is the event's ce-id and Nats-Msg-Id, the same for the same
//     change however often it is detected.
//   - Message builds the NATS message.
//
// Poller is the loop around it. Among all the processes that share a NATS
// deployment one Poller at a time is active, under a lease; it keeps a
// 16-byte digest per customer in memory (index.go) and everything else in
// the stream StateStream (store.go), which it owns: the cursor, and each
// customer as last seen. A poll (pass.go) pages the export from the cursor
// less an overlap, publishes an event for each changed customer and then
// saves its record, both writes conditional on what it read, so that no
// change is lost or published twice across restarts, crashes and a change
// of poller. A record too large for one NATS message makes a truncated
// event and a sketch in the state (oversized.go), never a failed poll.
//
// The poller also writes the read model, model.Bucket (readmodel.go): each
// customer's entry after its event is stored and before its state is
// saved; a complete export fills it and repairs it; after each completed
// poll it saves the model's model.Status. Only kvsubjects.go knows the
// subjects under which key-value buckets keep their keys.
//
// Two requests reach the active poller from any process: a resync
// (resync.go; ResyncClient, Poller.Resync) makes its next poll a complete
// export at once and reports its progress; a delete applied through a
// command (Poller.NoteDeleted, applieddeletes.go) is confirmed with a get
// and published by the next poll.
package poller
