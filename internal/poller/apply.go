package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// maxRestates bounds how often apply starts over for one customer because
// the saved state or the events moved under it.
const maxRestates = 8

// apply publishes the event for one customer whose record (c.raw, nil when
// gone) differs from the saved one, if the difference is a real change,
// and then saves the record. Both writes are compare-and-set: the event on
// the last sequence of the customer's event subject, the state on its
// entry's revision; when one fails, apply reads what the other writer did
// and starts over from there.
func (ps *pass) apply(ctx context.Context, c change, detected time.Time) error {
	var sv saved
	if c.known {
		var err error
		if sv, err = ps.p.store.load(ctx, c.id, c.chunk.seq); err != nil {
			return err
		}
	}
	for range maxRestates {
		var done bool
		var err error
		if sv, done, err = ps.attempt(ctx, c, sv, detected); err != nil || done {
			return err
		}
	}
	return fmt.Errorf("poller: %s: its state keeps changing under this poller: %w", c.id, errFenced)
}

// attempt applies c from its saved state sv: it reports done once c's
// record is the saved one, or returns the state to start over from.
func (ps *pass) attempt(ctx context.Context, c change, sv saved, detected time.Time) (saved, bool, error) {
	p := ps.p
	if c.same(sv) && !sv.behind {
		return sv, true, ps.fixModel(ctx, c, sv)
	}
	ev, eid, ok, err := eventFor(c, sv, detected)
	if err != nil {
		return sv, false, err
	}
	eventSeq := sv.eventSeq
	if ok {
		seq, restated, err := ps.publish(ctx, &ev, eid, sv, c.chunk.seq)
		if errors.Is(err, errRestate) {
			return restated, false, nil
		}
		if err != nil {
			return sv, false, err
		}
		eventSeq = seq
		if p.afterEvent != nil {
			if err := p.afterEvent(ev); err != nil {
				return sv, false, err
			}
		}
	}
	return ps.record(ctx, c, sv, ev, ok, eventSeq)
}

// fixModel records c, whose record is the saved one (sv), rewriting its
// read model entry first when a complete export found it wrong.
func (ps *pass) fixModel(ctx context.Context, c change, sv saved) error {
	if c.fixModel {
		if err := ps.p.putModel(ctx, ps.ls, c.id, c.raw); err != nil {
			return err
		}
	}
	ps.kept(c, sv)
	return nil
}

// record writes c's read model entry, after its event (ev, if ok, stored
// at eventSeq) and before its state, then saves the state if it is still
// sv's: done; or returns the state another writer saved, to start over
// from.
func (ps *pass) record(ctx context.Context, c change, sv saved, ev Event, ok bool, eventSeq uint64) (saved, bool, error) {
	p := ps.p
	if err := p.putModel(ctx, ps.ls, c.id, c.raw); err != nil {
		return sv, false, err
	}
	if !ps.ls.Valid(p.cfg.LeaseTTL / 4) {
		return sv, false, lease.ErrLost
	}
	_, sketched, err := p.store.save(ctx, c.id, c.raw, c.digest, eventSeq, sv.rev)
	if errors.Is(err, errFenced) {
		sv, err = p.store.load(ctx, c.id, c.chunk.seq)
		return sv, false, err
	}
	if err != nil {
		return sv, false, err
	}
	ps.saved(c, ev, ok, sketched)
	ps.recorded(c)
	return sv, true, nil
}

// kept updates the index for c, whose record is already its saved state
// sv, found so without a write: the state stays where it is. When that
// is a chunk (not an entry of its own written after it), the index keeps
// the chunk and only marks c seen by this pass. recorded would take c
// out of its chunk, and a chunk left holding nobody is deleted at the
// pass's end: c's only saved state with it.
func (ps *pass) kept(c change, sv saved) {
	if c.chunk.seq == 0 || laterThanChunk(sv.rev, c.chunk.seq) {
		ps.recorded(c)
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if e, ok := ps.x.m[c.h]; ok {
		e.seen = ps.no
		ps.x.m[c.h] = e
	}
}

// recorded updates the index once c's record is the saved one, in its
// own entry (or none: gone).
func (ps *pass) recorded(c change) {
	ps.mu.Lock()
	var empty []uint64
	if c.raw == nil {
		empty = ps.x.remove(c.h)
	} else {
		empty = ps.x.set(c.h, c.digest, 0, 0, ps.no)
	}
	ps.mu.Unlock()
	ps.spend(empty)
}

// same reports whether c's record is sv's (both none: gone).
func (c change) same(sv saved) bool {
	return (c.raw == nil && sv.record == nil) || (c.raw != nil && sv.record != nil && sv.digest == c.digest)
}

// eventFor returns the event that c makes against its saved state sv,
// with its eventID when newEvent made it (else none, for eventMsg to
// compute), and false when it makes none: the same record, or one
// recorded silently.
func eventFor(c change, sv saved, detected time.Time) (Event, eventID, bool, error) {
	switch {
	case c.same(sv) || c.silent:
		return Event{}, eventID{}, false, nil
	case sv.oversized:
		ev, ok, err := sketchEvent(c.id, sv, c.raw, detected)
		return ev, eventID{}, ok, err
	}
	return newEvent(c.id, sv.record, c.raw, detected)
}

// saved counts c as done once its state is saved: its event, if it made
// one (ok), in the metrics, logs and the pass's counts.
func (ps *pass) saved(c change, ev Event, ok, sketched bool) {
	p := ps.p
	if sketched {
		p.log.Info("customer record too large for the poller's state; it keeps a sketch, and the customer's next event is truncated too",
			"customer_id", c.id, "bytes", len(c.raw))
	}
	if !ok {
		return
	}
	p.metrics.events.WithLabelValues(ev.Change).Inc()
	if ev.Truncated {
		p.metrics.truncated.Inc()
		p.log.Warn("event too large for one NATS message; published without before and after",
			"customer_id", c.id, "change", ev.Change, "fields", ev.Fields, "event_id", ev.ID())
	}
	ps.mu.Lock()
	ps.events++
	if ev.Change == Deleted {
		ps.deletes++
	}
	ps.mu.Unlock()
}

// eventMsg returns the message of ev; an event too large for one NATS
// message is made truncated, and ev says so. It fails with lease.ErrLost
// when the lease may have lapsed.
func (ps *pass) eventMsg(ctx context.Context, ev *Event, eid eventID) (*nats.Msg, error) {
	p := ps.p
	if !ps.ls.Valid(p.cfg.LeaseTTL / 4) {
		return nil, lease.ErrLost
	}
	msg, err := message(p.subjects, p.cfg.OrgID, *ev, eid)
	if err == nil && !ev.Truncated && int64(msgSize(msg)) > p.js.Conn().MaxPayload() {
		ev.Truncated = true // the same ID
		msg, err = message(p.subjects, p.cfg.OrgID, *ev, eid)
	}
	if err != nil {
		return nil, err
	}
	// The poll's trace context: not part of ce-id or Nats-Msg-Id, so the
	// same change from another poll is still the same event.
	tracing.Inject(ctx, msg.Header)
	return msg, nil
}

// errRestate is returned by publish with the state to start over from.
var errRestate = errors.New("restate")

// publish publishes ev with the expectation that the last event of its
// customer is sv's (loaded with the chunk the index names, 0 for none);
// an event too large for one NATS message is published
// truncated, and ev says so. It returns the event's stream sequence; or
// errRestate and the state to start over from when that expectation
// fails:
//   - the customer's events were removed (age): expect the real last one;
//   - the last event is ev itself (published before a crash): done;
//   - the last event was made from sv's record (by this poller before a
//     crash, or a former one): start from its after;
//   - the saved state moved on: start from it;
//   - otherwise the events do not follow from the saved state (the state
//     bucket was reset, say), or the last event is truncated (its after is
//     not in it): the state wins, with a warning for the former.
func (ps *pass) publish(ctx context.Context, ev *Event, eid eventID, sv saved, chunk uint64) (uint64, saved, error) {
	p := ps.p
	msg, err := ps.eventMsg(ctx, ev, eid)
	if err != nil {
		return 0, saved{}, err
	}
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(sv.eventSeq))
	if err == nil {
		return ack.Sequence, saved{}, nil
	}
	if !isWrongLast(err) {
		return 0, saved{}, fmt.Errorf("poller: publish event for %s: %w", ev.CustomerID, err)
	}
	last, err := lastMsg(ctx, p.events, msg.Subject)
	if err != nil {
		return 0, saved{}, fmt.Errorf("poller: last event of %s: %w", ev.CustomerID, err)
	}
	switch {
	case last == nil:
		sv.eventSeq = 0
		return 0, sv, errRestate
	case last.Sequence < sv.eventSeq:
		sv.eventSeq = last.Sequence
		return 0, sv, errRestate
	case last.Header.Get(HeaderID) == msg.Header.Get(HeaderID):
		return last.Sequence, saved{}, nil
	}
	return ps.restate(ctx, ev.CustomerID, sv, chunk, last)
}

// restate returns, with errRestate, the state to start over from when
// the customer's last event (last) is not the one its state sv names:
// the last event's after when it was made from sv's record, else the
// saved state (publish tells why).
func (ps *pass) restate(ctx context.Context, id string, sv saved, chunk uint64, last *jetstream.RawStreamMsg) (uint64, saved, error) {
	p := ps.p
	next, truncated, err := afterOf(last, sv)
	switch {
	case err != nil:
		return 0, saved{}, err
	case next != nil:
		return 0, *next, errRestate
	}
	now, err := p.store.load(ctx, id, chunk)
	if err != nil {
		return 0, saved{}, err
	}
	if now.rev != sv.rev {
		return 0, now, errRestate
	}
	if truncated {
		// Its after is not in it: the saved state is all there is.
		p.log.Info("the customer's last event is truncated and not saved; going on from the saved state",
			"customer_id", id, "event_seq", last.Sequence, "saved_event_seq", sv.eventSeq)
	} else {
		p.log.Warn("the customer's last event does not follow from the saved state; going on from the saved state",
			"customer_id", id, "event_seq", last.Sequence, "saved_event_seq", sv.eventSeq)
	}
	sv.eventSeq = last.Sequence
	return 0, sv, errRestate
}

// afterOf returns the state that the customer's last event last leaves
// when it was made from sv's record (its after, not yet saved: behind),
// else nil; and whether last is truncated.
func afterOf(last *jetstream.RawStreamMsg, sv saved) (*saved, bool, error) {
	var prev struct {
		Before    json.RawMessage `json:"before"`
		After     json.RawMessage `json:"after"`
		Truncated bool            `json:"truncated"`
	}
	if err := json.Unmarshal(last.Data, &prev); err != nil || prev.Truncated || sv.oversized || !sameRecord(prev.Before, sv.record) {
		return nil, prev.Truncated, nil
	}
	next := saved{eventSeq: last.Sequence, rev: sv.rev, behind: true}
	if !isNull(prev.After) {
		next.record = prev.After
		var err error
		if next.digest, err = wholeDigest(prev.After); err != nil {
			return nil, false, err
		}
	}
	return &next, false, nil
}

func isNull(r json.RawMessage) bool {
	return len(bytes.TrimSpace(r)) == 0 || string(bytes.TrimSpace(r)) == "null"
}

// sameRecord reports whether two records (nil or null: none) are the same
// JSON value.
func sameRecord(a, b json.RawMessage) bool {
	if isNull(a) || isNull(b) {
		return isNull(a) && isNull(b)
	}
	da, errA := wholeDigest(a)
	db, errB := wholeDigest(b)
	return errA == nil && errB == nil && da == db
}
