package poller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/gormic/crm-bridge/internal/lease"
)

// pipelineMax is the most changes one round of the pipeline carries: a
// page's, at the export's page size of 1,000, and well within the client's
// 4,000 asynchronous publishes in flight.
const pipelineMax = 1000

// applyAll applies the changes of one page, or of a reconcile. Each round
// goes through the pipeline, which makes each write of many customers at
// once; the changes it cannot finish there (a write that finds another
// writer was first) are then applied one by one by apply, Workers at once,
// which reads what the other writer did and starts over from there. A
// customer that comes twice in work is applied again, after the first
// round. It stops at the first error that ends the pass; a record that
// cannot make an event (ErrInvalidRecord) is logged and skipped.
func (ps *pass) applyAll(ctx context.Context, work []change, detected time.Time) error {
	for _, c := range work {
		ps.ln.touch(c.h, ps.background)
	}
	for len(work) > 0 {
		var first []change
		first, work = splitRepeats(work)
		if ps.tails.holds(first) {
			// A customer of this round is still being written: the
			// rounds in flight end first (their customers another
			// writer was first for included, so that their changes come
			// before these), and this one reads what they saved.
			if err := ps.settle(ctx); err != nil {
				return err
			}
			ps.refresh(first)
		}
		var slow []change
		for round := range slices.Chunk(first, pipelineMax) {
			s, err := ps.pipeline(ctx, round, detected)
			if err != nil {
				return err
			}
			slow = append(slow, s...)
		}
		if err := ps.applySlow(ctx, slow, detected); err != nil {
			return err
		}
	}
	return nil
}

// applySlow applies the changes of slow one by one, Workers at once: a
// write of the pipeline found another writer was first.
func (ps *pass) applySlow(ctx context.Context, slow []change, detected time.Time) error {
	return each(ctx, ps.p.cfg.Workers, len(slow), func(ctx context.Context, i int) error {
		err := ps.apply(ctx, slow[i], detected)
		if errors.Is(err, ErrInvalidRecord) {
			ps.skip(slow[i].id, err)
			return nil
		}
		return err
	})
}

// splitRepeats splits work into each customer's first change and the
// rest, both in order.
func splitRepeats(work []change) (first, again []change) {
	seen := make(map[idHash]bool, len(work))
	for _, c := range work {
		if seen[c.h] {
			again = append(again, c)
			continue
		}
		seen[c.h] = true
		first = append(first, c)
	}
	return first, again
}

// each calls f(i) for i from 0 to n-1, up to workers at once (at least
// one), and returns the first error, after which it starts no more.
func each(ctx context.Context, workers, n int, f func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(gctx, i) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// skip logs a record that cannot make an event.
func (ps *pass) skip(id string, err error) {
	ps.p.metrics.invalid.Inc()
	ps.p.log.Error("customer record skipped", "customer_id", id, "err", err)
}

// flight is one customer's change on its way through the pipeline.
type flight struct {
	c   change
	sv  saved
	ev  Event
	eid eventID
	// event is set when ev is to be published.
	event bool
	// seq is the stream sequence of the customer's last event: sv's, or
	// ev's once stored.
	seq uint64
	// save is false when only the read model entry is rewritten
	// (c.fixModel): the saved record is c's.
	save     bool
	sketched bool
	// chunked is set when the state is saved in a chunk, not an entry.
	chunked bool
	ack     jetstream.PubAckFuture
}

// pipeline applies changes of distinct customers as apply does, with the
// same writes in the same order per customer (the event, then the read
// model entry, then the state), but each step for all of them at once:
// their saved states in a few batched reads, then every event published
// asynchronously, each conditional on the last sequence of its customer's
// subject, then every read model entry, then every state entry, each
// conditional on its last revision. A write whose condition fails means
// another writer was first: that customer is returned, for apply.
//
// The writes are waited for a round later (tail.go): once this round's
// states are read, the rounds in flight take a step on, and this one's
// events are sent; so the server stores one round's events, another's
// read model entries and a third's state while the poller reads and
// publishes the next. A complete export in the background ends its
// rounds at the end of each page, which lets other passes write between
// pages; every pass ends them at its end.
func (ps *pass) pipeline(ctx context.Context, cs []change, detected time.Time) (slow []change, err error) {
	clock := stepClock{m: ps.p.metrics.steps}
	start := time.Now()
	svs, loaded, err := ps.p.store.loadMany(ctx, cs, ps.p.cfg.Workers)
	if err != nil {
		return nil, err
	}
	clock.add(stepLoad, start)
	if slow, err = ps.advance(ctx); err != nil {
		return nil, err
	}
	fs := make([]*flight, 0, len(cs))
	for i, c := range cs {
		if !loaded[i] {
			slow = append(slow, c)
			continue
		}
		f, err := ps.board(c, svs[i], detected)
		if err != nil {
			return nil, err
		}
		if f != nil {
			fs = append(fs, f)
		}
	}
	if err := ps.sendEvents(ctx, fs); err != nil {
		return nil, err
	}
	ps.fly(len(cs), fs, clock)
	if ps.background {
		before, err := ps.join(ctx)
		return append(slow, before...), err
	}
	return slow, nil
}

// board returns c's flight from its saved state sv, or nil when there is
// nothing to write: its record is the saved one (recorded), or cannot
// make an event (skipped).
func (ps *pass) board(c change, sv saved, detected time.Time) (*flight, error) {
	switch {
	case c.same(sv) && c.fixModel:
		return &flight{c: c, sv: sv}, nil
	case c.same(sv):
		ps.kept(c, sv)
		return nil, nil
	}
	ev, eid, ok, err := eventFor(c, sv, detected)
	if errors.Is(err, ErrInvalidRecord) {
		ps.skip(c.id, err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &flight{c: c, sv: sv, ev: ev, eid: eid, event: ok, seq: sv.eventSeq, save: true}, nil
}

// awaitEvents waits for the events of fs, and returns the flights that
// go on: those without an event, and those whose event is stored. A
// customer whose last event is not the one its state names goes to slow.
func (ps *pass) awaitEvents(ctx context.Context, fs []*flight) (next []*flight, slow []change, err error) {
	next = fs[:0]
	for _, f := range fs {
		if f.event {
			ack, err := await(ctx, f.ack)
			if ctx.Err() == nil { // f.ack answered: its message is sent for good
				releaseEventBuf(f.ack.Msg())
			}
			if isWrongLast(err) {
				slow = append(slow, f.c)
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("poller: publish event for %s: %w", f.c.id, err)
			}
			f.seq = ack.Sequence
		}
		next = append(next, f)
	}
	clear(fs[len(next):])
	if err := ps.afterEvents(next); err != nil {
		return nil, nil, err
	}
	return next, slow, nil
}

// sendEvents starts publishing the events of fs, each conditional on the
// last sequence of its customer's subject.
func (ps *pass) sendEvents(ctx context.Context, fs []*flight) error {
	for _, f := range fs {
		if !f.event {
			continue
		}
		msg, err := ps.eventMsg(ctx, &f.ev, f.eid)
		if err != nil {
			return err
		}
		if f.ack, err = ps.p.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(f.sv.eventSeq)); err != nil {
			return fmt.Errorf("poller: publish event for %s: %w", f.c.id, err)
		}
	}
	return nil
}

// afterEvents runs the test hook afterEvent for each event of fs.
func (ps *pass) afterEvents(fs []*flight) error {
	if ps.p.afterEvent == nil {
		return nil
	}
	for _, f := range fs {
		if f.event {
			if err := ps.p.afterEvent(f.ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendStates starts saving the state of t's customers. The records of a
// round of many (a bulk change, a first start with initial events) go
// into chunks, as a first start without events writes them: a chunk write
// per some hundred customers instead of one per customer.
func (ps *pass) sendStates(t *tail) error {
	if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	t.chunks = ps.newChunkWriter()
	if err := ps.startSaves(t.fs, &t.chunks); err != nil {
		t.chunks.discard(ps)
		return err
	}
	return t.chunks.flush(ps)
}

// awaitStates waits for the saves sendStates started, and counts each
// customer as done once saved. A customer whose entry another writer
// saved first goes to slow.
func (ps *pass) awaitStates(ctx context.Context, t *tail) ([]change, error) {
	slow, err := ps.awaitSaves(ctx, t.fs, nil)
	if err := errors.Join(err, t.chunks.wait(ctx, ps)); err != nil {
		return nil, err
	}
	for _, f := range t.fs {
		if f.chunked {
			ps.saved(f.c, f.ev, f.event, false)
		}
	}
	return slow, nil
}

// chunkFrom is how many records a round saves for them to go into
// chunks: a chunk holds about a hundred. Fewer are each saved in their
// own entry, so that small polls do not leave many chunks mostly spent.
const chunkFrom = 100

// startSaves starts saving the state of fs: in chunks, for a round of at
// least chunkFrom records that fit one, and for a first start's new
// customers; else each in its entry, asynchronously.
func (ps *pass) startSaves(fs []*flight, chunks *chunkWriter) error {
	fits := func(f *flight) bool { return f.save && f.c.raw != nil && len(f.c.raw) <= chunks.limit }
	bulk := 0
	for _, f := range fs {
		if fits(f) {
			bulk++
		}
	}
	for _, f := range fs {
		var err error
		switch {
		case !f.save:
		case fits(f) && (bulk >= ps.p.chunkFrom || !ps.cur.Initialized && !f.c.known):
			f.chunked = true
			chunks.add(ps, chunkRecord{id: f.c.id, digest: f.c.digest, eventSeq: f.seq, raw: f.c.raw}, f.c.h)
		default:
			f.ack, f.sketched, err = ps.p.store.saveAsync(f.c.id, f.c.raw, f.c.digest, f.seq, f.sv.rev)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// awaitSaves waits for the saves of sendStates' entries.
func (ps *pass) awaitSaves(ctx context.Context, fs []*flight, slow []change) ([]change, error) {
	for _, f := range fs {
		if f.chunked {
			continue // the chunk's wait records it
		}
		if f.save {
			_, err := await(ctx, f.ack)
			if isWrongLast(err) {
				f.c.known = true // its entry exists now
				slow = append(slow, f.c)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("poller: save %s: %w", f.c.id, err)
			}
			ps.saved(f.c, f.ev, f.event, f.sketched)
			ps.recorded(f.c)
			continue
		}
		ps.kept(f.c, f.sv) // only its read model entry was rewritten
	}
	return slow, nil
}

// await waits for an asynchronous publish's acknowledgement.
func await(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
