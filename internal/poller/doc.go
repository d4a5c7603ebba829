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
// deployment one Poller at a time is active, under a lease (poller.go); it
// keeps a 24-byte entry per customer in memory (index.go) and everything
// else in the stream StateStream (store.go), which it owns: the cursor, and
// each customer as last seen (migrate.go moves a former state from the
// key-value bucket it used to be in). Its work, one room a concern:
//   - loop.go: the poll loop of the active poller, and the lane its passes
//     share (one pass writes at a time).
//   - pass.go: one poll, a pass: it pages the export, one page ahead.
//   - changes.go: sorting a page into changes.
//   - pipeline.go: applying a page's changes, each write for all of them
//     at once; tail.go: the round whose read model entries are on their
//     way while the next one reads and publishes; apply.go: one customer
//     at a time, with the restate protocol for a write that finds another
//     writer was first.
//   - reconcile.go: after a complete export, the customers it did not show.
//   - cursor.go: where the next poll starts.
//   - chunk.go: a first start's customers, recorded in bulk.
//   - store.go, storebatch.go: the state's reads and writes.
//   - modelwrite.go: the read model's writes, a batch with one
//     acknowledgement.
//   - catchup.go: events published but not saved.
//
// Each change's event is published and then its record saved, both writes
// conditional on what the pass read (the event on the last sequence of its
// customer's subject, the record on its entry's revision), so that no
// change is lost or published twice across restarts, crashes and a change
// of poller. A record too large for one NATS message makes a truncated
// event and a sketch in the state (oversized.go), never a failed poll.
//
// # The cursor
//
// The cursor (store.go) holds where polling goes on from: since, the
// greatest updatedAt of the customers seen, as the CRM wrote it (the
// CRM's clock, never the bridge's); initialized, set once a first
// complete export recorded the customers that existed; reconciledAt, when
// the last complete export began; eventSeq, a sequence of the events
// stream up to which every event a poller published is saved in the state;
// and its owner. A poller that becomes active claims it (a write
// conditional on its revision), so that whatever a former poller still
// writes conditional on it is refused.
//
// An incremental poll reads what changed since the cursor less an overlap
// (Config.Overlap), and a poll that completes moves since to the greatest
// updatedAt it saw. The cursor does not move when a poll fails (it is
// retried from the same cursor), nor when it is unstable: a customer came
// twice, so a page may have shifted under an offset-paged export and
// skipped a record; the next poll reads the same window again.
//
// A poll reads the complete export instead: at a first start; every
// Config.ReconcileInterval (a reconcile, which finds the deleted
// customers); when a resync asks for it (resync.go); when the read model
// is not filled; and after a poll that moved the cursor further than a
// quarter of the overlap (at least two intervals) over several pages, an
// outage's catch-up, say, since a record skipped by a shifted page would
// then fall outside the next poll's overlap (cursor.go, shifted). Once the
// customers are recorded and the read model filled, a complete export of
// many customers runs in the background, beside the incremental polls
// (loop.go): it leaves alone every customer they changed since it began,
// and reconciledAt moves only if none of them asked for another.
//
// Catch-up: a poller that dies, or a pass that fails, between publishing
// a customer's event and saving its record leaves the state behind the
// event. When a poller becomes active, and before the pass after a failed
// one, it reads the events after the cursor's eventSeq and brings each
// customer whose saved event sequence is below its last event up to that
// event's after (catchup.go). eventSeq is the events stream's last
// sequence when the last completed poll began.
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
