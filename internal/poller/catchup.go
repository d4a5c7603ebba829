package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/jsonscan"
	"github.com/gormic/crm-bridge/internal/lease"
)

// catchUp brings the state up to the change events published after
// stream sequence from (the cursor's EventSeq). A poller that dies, loses
// NATS or its lease between publishing a customer's event and saving its
// record leaves the state behind the event; so does a pass that fails
// there (a save that times out while a cluster elects a leader). catchUp
// runs when a poller becomes active, and before the pass after a failed
// one. Each customer whose saved event sequence is below its last such
// event gets that event's after as its record (or is deleted, for a
// deleted event), compare-and-set, and the index follows; its read model
// entry is written first. Without this, a
// customer whose created event was never saved, and who is deleted before
// the next pass sees it, would never get its deleted event: no poller
// would know it. A truncated event (too large for one NATS message) holds
// no after: its customer is left to the next pass, which finds the event
// when it publishes. It returns how many customers it brought up. It runs
// in the lane's turn.
//
// After a poll that published many events, nearly every customer is
// saved as of its last event already: their saved states are read in
// batches first (loadMany, as a pass reads them), and only the customers
// that may be behind are read and brought up one by one, their events'
// afters fetched then.
func (p *Poller) catchUp(ctx context.Context, ls *lease.Lease, ln *lane, from uint64) (int, error) {
	latest, err := p.lastEvents(ctx, from)
	if err != nil {
		return 0, err
	}
	ids := slices.Sorted(maps.Keys(latest))
	behind, err := p.maybeBehind(ctx, ln, ids, latest)
	if err != nil {
		return 0, err
	}
	caught := 0
	for _, id := range behind {
		ok, err := p.bringUp(ctx, ls, ln, id, latest[id])
		if err != nil {
			return caught, err
		}
		if ok {
			caught++
		}
	}
	return caught, nil
}

// maybeBehind returns those of ids whose state, read in batches, is not
// yet saved as of their last event in latest. A customer the index says
// is in a chunk may have an entry of its own that the index missed (a
// save whose acknowledgement was lost), or a chunk it missed: a record
// read saved as of its last event is (a customer's events only move on),
// and one read behind is read again alone (bringUp).
func (p *Poller) maybeBehind(ctx context.Context, ln *lane, ids []string, latest map[string]uint64) ([]string, error) {
	var behind []string
	// As many at once as a pass loads: the records read (and the chunks
	// they are in) are let go after each round.
	for round := range slices.Chunk(ids, pipelineMax) {
		cs := make([]change, len(round))
		for i, id := range round {
			h := ln.x.hash(id)
			_, chunk := ln.x.saved(h)
			// known: read its entry even when the index does not know
			// the customer (loadMany takes an unknown one for never saved).
			cs[i] = change{id: id, h: h, known: true, chunk: chunk}
		}
		svs, loaded, err := p.store.loadMany(ctx, cs, p.cfg.Workers)
		if err != nil {
			return nil, err
		}
		for i, id := range round {
			if !loaded[i] || svs[i].eventSeq < latest[id] {
				behind = append(behind, id)
			}
		}
	}
	return behind, nil
}

// lastEvents reads the change events after stream sequence from, and
// returns the stream sequence of each customer's last.
func (p *Poller) lastEvents(ctx context.Context, from uint64) (map[string]uint64, error) {
	latest := map[string]uint64{}
	c, err := p.js.OrderedConsumer(ctx, p.events.CachedInfo().Config.Name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{p.subjects.AllChanged()},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("poller: catch up: %w", err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("poller: catch up: %w", err)
	}
	for n := info.NumPending; n > 0; {
		batch, err := c.Fetch(int(min(n, 1024)))
		if err != nil {
			return nil, fmt.Errorf("poller: catch up: %w", err)
		}
		for m := range batch.Messages() {
			n--
			if err := p.noteEvent(latest, m); err != nil {
				return nil, err
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("poller: catch up: %w", err)
		}
	}
	return latest, nil
}

// catchUpEvent is what catch-up reads of an event: a message that does
// not decode so is not one. lastEvents reads every event for its
// customer, keeping its sequence; eventAfter reads one again for its
// after.
type catchUpEvent struct {
	CustomerID string          `json:"customerId"`
	After      json.RawMessage `json:"after"`
	Truncated  bool            `json:"truncated"`
}

// noteEvent keeps event m in latest as its customer's last; a message
// that is not an event is logged and skipped.
func (p *Poller) noteEvent(latest map[string]uint64, m jetstream.Msg) error {
	meta, err := m.Metadata()
	if err != nil {
		return fmt.Errorf("poller: catch up: %w", err)
	}
	id, err := eventCustomer(m.Data())
	if err != nil || id == "" {
		p.log.Warn("poller: catch up: an event that is not one; skipped", "seq", meta.Sequence.Stream, "err", err)
		return nil
	}
	latest[id] = meta.Sequence.Stream
	return nil
}

// eventCustomer returns the customerId of event data, and the error, as
// json.Unmarshal into a catchUpEvent would. An event as the poller writes
// it (valid JSON, an object, plain ASCII names) is read in one walk after
// a check that it is valid JSON, which skips its before and after; any
// other through json.Unmarshal. Catch-up reads every event since the last
// complete poll, and decoding each whole was most of its CPU.
func eventCustomer(data []byte) (string, error) {
	if !jsonscan.Valid(data) {
		return unmarshalCustomer(data)
	}
	i := jsonscan.Space(data, 0)
	if data[i] != '{' {
		return unmarshalCustomer(data)
	}
	var id string
	ms := jsonscan.Object(data, i)
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		name := data[m.Name+1 : m.NameEnd-1]
		if m.Escaped || !isASCII(name) { // encoding/json folds some non-ASCII names to ASCII
			return unmarshalCustomer(data)
		}
		switch {
		case bytes.EqualFold(name, []byte("customerId")):
			if !jsonscan.SetString(data[m.Value:m.End], &id) {
				return unmarshalCustomer(data) // not a string: its error
			}
		case bytes.EqualFold(name, []byte("truncated")):
			if v := data[m.Value]; v != 't' && v != 'f' && v != 'n' {
				return unmarshalCustomer(data) // not a bool: its error
			}
		}
	}
	return id, nil
}

func unmarshalCustomer(data []byte) (string, error) {
	var ev catchUpEvent
	err := json.Unmarshal(data, &ev)
	return ev.CustomerID, err
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// eventAfter reads the event at stream sequence seq, customer id's, for
// its after, and whether it is truncated.
func (p *Poller) eventAfter(ctx context.Context, id string, seq uint64) (after json.RawMessage, truncated bool, err error) {
	m, err := p.events.GetMsg(ctx, seq)
	if err != nil {
		return nil, false, fmt.Errorf("poller: catch up %s: event %d: %w", id, seq, err)
	}
	var ev catchUpEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		return nil, false, fmt.Errorf("poller: catch up %s: event %d: %w", id, seq, err)
	}
	return ev.After, ev.Truncated, nil
}

// bringUp brings customer id's state up to its last event, at stream
// sequence evSeq, if it is behind it; it reports whether it did.
func (p *Poller) bringUp(ctx context.Context, ls *lease.Lease, ln *lane, id string, evSeq uint64) (bool, error) {
	h := ln.x.hash(id)
	_, chunk := ln.x.saved(h)
	sv, err := p.store.load(ctx, id, chunk.seq)
	if err != nil || sv.eventSeq >= evSeq {
		return false, err
	}
	after, truncated, err := p.eventAfter(ctx, id, evSeq)
	if err != nil {
		return false, err
	}
	if truncated {
		// Its after is not in it. The next pass finds the event again
		// when it publishes the customer's (publish).
		p.log.Info("poller state behind a truncated event; left for the next poll",
			"customer_id", id, "event_seq", evSeq)
		return false, nil
	}
	c := change{id: id, h: h}
	if !isNull(after) {
		c.raw = after
		if c.digest, err = wholeDigest(c.raw); err != nil {
			return false, fmt.Errorf("poller: catch up %s: %w", id, err)
		}
	}
	if err := p.catchUpSave(ctx, ls, c, evSeq, sv.rev); err != nil {
		return false, err
	}
	p.caughtUp(ctx, ln, c, evSeq)
	return true, nil
}

// catchUpSave writes c's read model entry, then saves its state as of
// its event at seq, if its entry is still at rev.
func (p *Poller) catchUpSave(ctx context.Context, ls *lease.Lease, c change, seq, rev uint64) error {
	// The read model after the event, before the state.
	if err := p.putModel(ctx, ls, c.id, c.raw); err != nil {
		return err
	}
	if !ls.Valid(p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	_, _, err := p.store.save(ctx, c.id, c.raw, c.digest, seq, rev)
	return err
}

// caughtUp puts customer c, saved as of its event at seq, in the index.
func (p *Poller) caughtUp(ctx context.Context, ln *lane, c change, seq uint64) {
	ln.touch(c.h, false)
	var empty []uint64
	if c.raw == nil {
		empty = ln.x.remove(c.h)
	} else {
		empty = ln.x.set(c.h, c.digest, 0, 0, 0)
	}
	p.dropChunks(ctx, empty)
	p.log.Info("poller state brought up to an event published but not saved",
		"customer_id", c.id, "event_seq", seq)
}
