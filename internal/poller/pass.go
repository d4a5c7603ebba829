package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// poll is the active poller's work: it claims the cursor (so that chunks
// a former poller still writes are refused), rebuilds the index from the
// state, then polls every Interval until ctx ends or the lease is lost. A
// poll that fails is retried with backoff from the same cursor.
func (p *Poller) poll(ctx context.Context, ls *lease.Lease) error {
	cur, rev, err := p.store.cursor(ctx)
	if err != nil {
		return err
	}
	if rev, err = p.store.saveCursor(ctx, cur, rev); err != nil {
		return err
	}
	start := p.cfg.Now()
	x, empty, err := p.store.rebuild(ctx)
	if err != nil {
		return err
	}
	p.dropChunks(ctx, empty)
	caught, err := p.catchUp(ctx, ls, x, cur.EventSeq)
	if err != nil {
		return err
	}
	filled := p.loadModelStatus(ctx)
	p.log.Info("poller state loaded", "customers", len(x.m), "chunks", len(x.chunks), "since", cur.Since,
		"initialized", cur.Initialized, "caught_up", caught, "model_filled", filled, "took", time.Since(start).Round(time.Millisecond))

	bo := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(time.Second),
		backoff.WithMaxInterval(max(p.cfg.Interval, 5*time.Second)),
		backoff.WithMaxElapsedTime(0))
	var no uint32
	behind := false // a pass failed: events it published may be unsaved
	for {
		no++
		start := p.cfg.Now()
		resync := p.resyncs.begin(start) // resync.go
		ps := &pass{p: p, x: x, ls: ls, no: no, cur: cur, rev: rev, start: start,
			full: resync || !filled || !cur.Initialized || cur.Since == "" || start.Sub(cur.ReconciledAt) >= p.cfg.ReconcileInterval}
		var reported func(error)
		if resync {
			reported = p.reportResync(ps)
		}
		pctx, span := p.startPoll(ctx, ps)
		err := ps.mark(pctx)
		if err == nil && behind {
			_, err = p.catchUp(pctx, ls, x, cur.EventSeq)
		}
		if err == nil {
			behind = false
			err = ps.run(pctx)
		}
		endPoll(span, ps, err)
		if reported != nil {
			reported(err)
		}
		kind := "changes"
		if ps.full {
			kind = "reconcile"
		}
		wait := time.Until(start.Add(p.cfg.Interval))
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errFenced), errors.Is(err, lease.ErrLost):
			p.metrics.passes.WithLabelValues(kind, "error").Inc()
			return err
		case err != nil:
			behind = true
			p.metrics.passes.WithLabelValues(kind, "error").Inc()
			wait = bo.NextBackOff()
			p.setStatus(func(s *Status) { s.Err = err })
			p.log.Warn("poll failed; retrying from the same cursor", "err", err, "retry_in", wait.Round(time.Millisecond),
				"lag", p.Status().Lag(p.cfg.Now()).Round(time.Millisecond))
		default:
			p.metrics.passes.WithLabelValues(kind, "ok").Inc()
			bo.Reset()
			cur, rev = ps.cur, ps.rev
			// A complete export that recorded the customers filled the
			// read model, or repaired it.
			filled = filled || (ps.full && cur.Initialized)
			p.writeModelStatus(ctx, filled, start)
			p.setStatus(func(s *Status) { s.LastComplete, s.Err = start, nil; s.Polls++ })
			p.metrics.lastComplete.Set(float64(start.UnixMilli()) / 1000)
			level := slog.LevelDebug
			if ps.events > 0 || ps.full {
				level = slog.LevelInfo
			}
			p.log.Log(ctx, level, "poll done", "kind", kind, "pages", ps.pages, "records", ps.records, "events", ps.events,
				"since", sinceText(ps.since), "cursor", cur.Since, "stable", !ps.unstable, "took", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		case <-p.resyncs.wake(): // a resync was asked for: at once
		}
	}
}

// sinceText is a poll's updatedSince for the logs.
func sinceText(t time.Time) string {
	if t.IsZero() {
		return "everything"
	}
	return t.UTC().Format(time.RFC3339)
}

// dropChunks deletes chunks that no longer hold any customer's saved
// record. It is tidying: a failure is logged and left for the next start.
func (p *Poller) dropChunks(ctx context.Context, seqs []uint64) {
	for _, seq := range seqs {
		if err := p.store.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) && ctx.Err() == nil {
			p.log.Debug("poller: cannot delete a spent chunk", "seq", seq, "err", err)
		}
	}
}

// pass is one poll: it reads the export from the cursor less the overlap
// (or all of it: full), publishes an event per real change, records what
// it saw, and, when full, finds the customers that are gone.
type pass struct {
	p     *Poller
	ls    *lease.Lease
	no    uint32
	full  bool
	start time.Time
	since time.Time

	cur cursor
	rev uint64

	mu       sync.Mutex // guards x, and the counters below, during apply
	x        *index
	pages    int
	records  int
	events   int
	deletes  int // deleted events, of events
	maxAt    time.Time
	maxAtRaw string
	unstable bool // a customer came twice: a page may have been skipped
	// eventSeq is the events stream's last sequence when the pass started:
	// the cursor's EventSeq once it is complete.
	eventSeq uint64
	// strays are the read model's entries of customers the state did not
	// hold when a complete export started (readmodel.go).
	strays []stray
	// bulk holds a first start's pages in flight (bulk.go).
	bulk bulkPipe
}

// mark notes the events stream's last sequence before the pass publishes.
func (ps *pass) mark(ctx context.Context) error {
	info, err := ps.p.events.Info(ctx)
	if err != nil {
		return fmt.Errorf("poller: events stream: %w", err)
	}
	ps.eventSeq = info.State.LastSeq
	return nil
}

// progressEvery is how often a long poll (a first start over many
// customers, say) logs how far it got.
const progressEvery = 10 * time.Second

// change is one customer whose record differs from its saved one.
type change struct {
	id     string
	h      idHash
	raw    json.RawMessage // nil: gone
	digest uint64
	known  bool
	chunk  uint64 // the chunk of its saved record, 0 for none
	// silent records the customer without an event: one seen first at a
	// first start, too large for a chunk.
	silent bool
	// fixModel rewrites the customer's read model entry even when its
	// record is the saved one: a complete export found the entry wrong.
	fixModel bool
}

func (ps *pass) run(ctx context.Context) error {
	p := ps.p
	if !ps.full {
		t, err := time.Parse(time.RFC3339Nano, ps.cur.Since)
		if err != nil {
			return fmt.Errorf("poller: saved cursor %q: %w", ps.cur.Since, err)
		}
		ps.since = t.Add(-p.cfg.Overlap)
	}
	type result struct {
		page crm.ExportPage
		err  error
	}
	pages := make(chan result, 1)
	fctx, cancel := context.WithCancel(ctx)
	var fetching sync.WaitGroup
	defer fetching.Wait()
	defer cancel()
	fetching.Go(func() {
		defer close(pages)
		for page, err := range p.crm.Export(fctx, ps.since) {
			select {
			case pages <- result{page, err}:
			case <-fctx.Done():
				return
			}
		}
	})
	if ps.full {
		if err := ps.scanModel(ctx); err != nil {
			return err
		}
	}
	defer ps.bulk.abandon(ctx, ps)
	progress := time.Now()
	for r := range pages {
		if r.err != nil {
			return fmt.Errorf("poller: export: %w", r.err)
		}
		p.metrics.pages.Inc()
		ps.mu.Lock()
		ps.pages++
		ps.mu.Unlock()
		if err := ps.page(ctx, r.page.Items); err != nil {
			return err
		}
		if time.Since(progress) >= progressEvery {
			progress = time.Now()
			took := time.Since(ps.start)
			p.log.Info("poll under way", "pages", ps.pages, "records", ps.records, "events", ps.events,
				"records_per_s", int(float64(ps.records)/took.Seconds()), "took", took.Round(time.Second))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := ps.bulk.drain(ctx, ps); err != nil {
		return err
	}
	if ps.full {
		if err := ps.reconcile(ctx); err != nil {
			return err
		}
		if err := ps.dropStrays(ctx); err != nil {
			return err
		}
	}
	if err := ps.appliedDeletes(ctx); err != nil {
		return err
	}
	return ps.saveCursor(ctx)
}

// page handles one page of the export.
func (ps *pass) page(ctx context.Context, items []crm.Customer) error {
	p := ps.p
	bulk := !ps.cur.Initialized && !p.cfg.InitialEvents
	var (
		work   []change
		chunks = chunkWriter{limit: min(chunkMax, int(p.js.Conn().MaxPayload()/2))}
		models modelBatch
	)
	detected := p.cfg.Now()
	p.metrics.records.Add(float64(len(items)))
	ps.mu.Lock()
	ps.records += len(items)
	ps.mu.Unlock()
	for i := range items {
		c := &items[i]
		d, err := wholeDigest(c.Raw)
		if err != nil {
			p.metrics.invalid.Inc()
			p.log.Error("customer record skipped", "customer_id", c.ID, "err", err)
			continue
		}
		ps.observe(c.ID, c.UpdatedAt)
		h := ps.x.hash(c.ID)
		e, known := ps.x.m[h]
		if known && e.seen == ps.no {
			ps.unstable = true
		}
		switch {
		case known && e.digest == d:
			if ps.full && e.seen != ps.no && e.seen != ps.no|modelOK {
				if err := models.put(ps, c.ID, c.Raw); err != nil {
					return err
				}
			}
			e.seen = ps.no
			ps.x.m[h] = e
		case !known && bulk && len(c.Raw) > chunks.limit:
			work = append(work, change{id: c.ID, h: h, raw: c.Raw, digest: d, silent: true})
		case !known && bulk:
			if err := models.put(ps, c.ID, c.Raw); err != nil {
				return err
			}
			chunks.add(ps, chunkRecord{id: c.ID, digest: d, raw: c.Raw}, h)
		default:
			if known {
				e.seen = ps.no
				ps.x.m[h] = e
			}
			work = append(work, change{id: c.ID, h: h, raw: c.Raw, digest: d, known: known, chunk: ps.x.chunkSeq(e)})
		}
	}
	if bulk {
		return ps.bulk.push(ctx, ps, models, chunks, work, detected)
	}
	// The read model first, then the state that records the same
	// customers.
	if err := models.wait(ctx); err != nil {
		chunks.discard(ps)
		return err
	}
	if err := chunks.flush(ps); err != nil {
		return err
	}
	errApply := ps.applyAll(ctx, work, detected)
	if err := chunks.wait(ctx, ps); err != nil {
		return err
	}
	return errApply
}

// applyAll applies changes of different customers concurrently, up to
// Workers at once. It stops at the first error that ends the pass; a
// record that cannot make an event (ErrInvalidRecord) is logged and
// skipped.
func (ps *pass) applyAll(ctx context.Context, work []change, detected time.Time) error {
	if len(work) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan change)
	var wg sync.WaitGroup
	for range min(ps.p.cfg.Workers, len(work)) {
		wg.Go(func() {
			for c := range next {
				err := ps.apply(ctx, c, detected)
				if errors.Is(err, ErrInvalidRecord) {
					ps.p.metrics.invalid.Inc()
					ps.p.log.Error("customer record skipped", "customer_id", c.id, "err", err)
					continue
				}
				if err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, c := range work {
		select {
		case next <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

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
	p := ps.p
	var sv saved
	if c.known {
		var err error
		if sv, err = p.store.load(ctx, c.id, c.chunk); err != nil {
			return err
		}
	}
	for range maxRestates {
		same := (c.raw == nil && sv.record == nil) || (c.raw != nil && sv.record != nil && sv.digest == c.digest)
		if same && !sv.behind {
			if c.fixModel {
				if err := p.putModel(ctx, ps.ls, c.id, c.raw); err != nil {
					return err
				}
			}
			ps.recorded(c)
			return nil
		}
		var (
			ev  Event
			ok  bool
			err error
		)
		switch {
		case same || c.silent:
		case sv.oversized:
			ev, ok, err = sketchEvent(c.id, sv, c.raw, detected)
		default:
			ev, ok, err = NewEvent(c.id, sv.record, c.raw, detected)
		}
		if err != nil {
			return err
		}
		eventSeq := sv.eventSeq
		if ok {
			seq, restated, err := ps.publish(ctx, &ev, sv)
			if errors.Is(err, errRestate) {
				sv = restated
				continue
			}
			if err != nil {
				return err
			}
			eventSeq = seq
			if p.afterEvent != nil {
				if err := p.afterEvent(ev); err != nil {
					return err
				}
			}
		}
		// The read model after the event, before the state.
		if err := p.putModel(ctx, ps.ls, c.id, c.raw); err != nil {
			return err
		}
		if !ps.ls.Valid(p.cfg.LeaseTTL / 4) {
			return lease.ErrLost
		}
		_, sketched, err := p.store.save(ctx, c.id, c.raw, c.digest, eventSeq, sv.rev)
		if err != nil {
			if !errors.Is(err, errFenced) {
				return err
			}
			if sv, err = p.store.load(ctx, c.id, 0); err != nil {
				return err
			}
			continue
		}
		if sketched {
			p.log.Info("customer record too large for the poller's state; it keeps a sketch, and the customer's next event is truncated too",
				"customer_id", c.id, "bytes", len(c.raw))
		}
		if ok {
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
		ps.recorded(c)
		return nil
	}
	return fmt.Errorf("poller: %s: its state keeps changing under this poller: %w", c.id, errFenced)
}

// recorded updates the index once c's record is the saved one.
func (ps *pass) recorded(c change) {
	ps.mu.Lock()
	var empty []uint64
	if c.raw == nil {
		empty = ps.x.remove(c.h)
	} else {
		empty = ps.x.set(c.h, c.digest, 0, ps.no)
	}
	ps.mu.Unlock()
	if len(empty) > 0 {
		ps.p.dropChunks(context.Background(), empty)
	}
}

// errRestate is returned by publish with the state to start over from.
var errRestate = errors.New("restate")

// publish publishes ev with the expectation that the last event of its
// customer is sv's; an event too large for one NATS message is published
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
func (ps *pass) publish(ctx context.Context, ev *Event, sv saved) (uint64, saved, error) {
	p := ps.p
	if !ps.ls.Valid(p.cfg.LeaseTTL / 4) {
		return 0, saved{}, lease.ErrLost
	}
	msg, err := Message(p.subjects, p.cfg.OrgID, *ev)
	if err == nil && !ev.Truncated && int64(msgSize(msg)) > p.js.Conn().MaxPayload() {
		ev.Truncated = true
		msg, err = Message(p.subjects, p.cfg.OrgID, *ev)
	}
	if err != nil {
		return 0, saved{}, err
	}
	// The poll's trace context: not part of ce-id or Nats-Msg-Id, so the
	// same change from another poll is still the same event.
	tracing.Inject(ctx, msg.Header)
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
	if last == nil || last.Sequence < sv.eventSeq {
		if last == nil {
			sv.eventSeq = 0
		} else {
			sv.eventSeq = last.Sequence
		}
		return 0, sv, errRestate
	}
	if last.Header.Get(HeaderID) == msg.Header.Get(HeaderID) {
		return last.Sequence, saved{}, nil
	}
	var prev struct {
		Before    json.RawMessage `json:"before"`
		After     json.RawMessage `json:"after"`
		Truncated bool            `json:"truncated"`
	}
	err = json.Unmarshal(last.Data, &prev)
	if err == nil && !prev.Truncated && !sv.oversized && sameRecord(prev.Before, sv.record) {
		next := saved{eventSeq: last.Sequence, rev: sv.rev, behind: true}
		if !isNull(prev.After) {
			next.record = prev.After
			if next.digest, err = wholeDigest(prev.After); err != nil {
				return 0, saved{}, err
			}
		}
		return 0, next, errRestate
	}
	now, err := p.store.load(ctx, ev.CustomerID, 0)
	if err != nil {
		return 0, saved{}, err
	}
	if now.rev != sv.rev {
		return 0, now, errRestate
	}
	if prev.Truncated {
		// Its after is not in it: the saved state is all there is.
		p.log.Info("the customer's last event is truncated and not saved; going on from the saved state",
			"customer_id", ev.CustomerID, "event_seq", last.Sequence, "saved_event_seq", sv.eventSeq)
	} else {
		p.log.Warn("the customer's last event does not follow from the saved state; going on from the saved state",
			"customer_id", ev.CustomerID, "event_seq", last.Sequence, "saved_event_seq", sv.eventSeq)
	}
	sv.eventSeq = last.Sequence
	return 0, sv, errRestate
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

// reconcile runs after a complete export: a customer in the state that it
// did not show is gone if the CRM says so (a 404 for its id); if the CRM
// still has it, the export skipped it (a page shifted) and it is handled
// as any record. Errors from the CRM leave the customer for the next
// reconcile.
func (ps *pass) reconcile(ctx context.Context) error {
	missing := make(map[idHash]entry)
	for h, e := range ps.x.m {
		if e.seen != ps.no {
			missing[h] = e
		}
	}
	if len(missing) == 0 {
		return nil
	}
	ids, err := ps.missingIDs(ctx, missing)
	if err != nil {
		return err
	}
	// Ask the CRM about each, Workers at a time.
	work := make([]change, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(ps.p.cfg.Workers, len(ids)) {
		wg.Go(func() {
			for i := range next {
				work[i] = ps.confirm(ctx, ids[i], missing)
			}
		})
	}
feed:
	for i := range ids {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	work = slices.DeleteFunc(work, func(c change) bool { return c.id == "" })
	return ps.applyAll(ctx, work, ps.p.cfg.Now())
}

// confirm asks the CRM whether a customer missing from a complete export
// is gone. It returns the change to apply: gone (a 404), or the record the
// export skipped; or no change (empty id) when the CRM cannot tell.
func (ps *pass) confirm(ctx context.Context, id string, missing map[idHash]entry) change {
	h := ps.x.hash(id)
	c, err := ps.p.crm.Get(ctx, id)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return change{id: id, h: h, known: true, chunk: ps.x.chunkSeq(missing[h]), fixModel: true}
	case err != nil:
		if ctx.Err() == nil {
			ps.p.log.Warn("customer missing from the export, but the CRM does not say it is gone; checking again at the next reconcile",
				"customer_id", id, "err", err)
		}
		return change{}
	}
	d, err := wholeDigest(c.Raw)
	if err != nil {
		ps.p.metrics.invalid.Inc()
		ps.p.log.Error("customer record skipped", "customer_id", id, "err", err)
		return change{}
	}
	fix := missing[h].seen&modelOK == 0
	return change{id: id, h: h, raw: c.Raw, digest: d, known: true, chunk: ps.x.chunkSeq(missing[h]), fixModel: fix}
}

// missingIDs finds the ids of the missing customers: in their chunks, or
// from the subjects of their own entries.
func (ps *pass) missingIDs(ctx context.Context, missing map[idHash]entry) ([]string, error) {
	var ids []string
	chunks := make(map[uint64]bool)
	own := false
	for _, e := range missing {
		if e.chunk == 0 {
			own = true
		} else {
			chunks[ps.x.chunkSeq(e)] = true
		}
	}
	for seq := range chunks {
		m, err := ps.p.store.stream.GetMsg(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("poller: chunk %d: %w", seq, err)
		}
		err = readChunk(m.Data, func(r chunkRecord) bool {
			if e, ok := missing[ps.x.hash(r.id)]; ok && e.chunk != 0 && ps.x.chunkSeq(e) == seq {
				ids = append(ids, r.id)
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("poller: chunk %d: %w", seq, err)
		}
	}
	if own {
		err := ps.p.store.scan(ctx, "c.>", true, func(key string, m jetstream.Msg) error {
			if isDeleteMarker(m.Headers()) {
				return nil
			}
			id, err := keyID(key)
			if err != nil {
				return err
			}
			if e, ok := missing[ps.x.hash(id)]; ok && e.chunk == 0 {
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// saveCursor saves where the next poll starts: the greatest updatedAt of
// this pass if it was stable, else where this one started.
func (ps *pass) saveCursor(ctx context.Context) error {
	next := ps.cur
	if !ps.unstable {
		if ps.maxAtRaw != "" {
			if t, err := time.Parse(time.RFC3339Nano, next.Since); err != nil || ps.maxAt.After(t) {
				next.Since = ps.maxAtRaw
			}
		}
		if !next.Initialized {
			next.Initialized = true
			ps.p.log.Info("poller recorded the existing customers", "customers", len(ps.x.m), "events", ps.events)
		}
	}
	if ps.full {
		next.ReconciledAt = ps.start
	}
	next.EventSeq = max(next.EventSeq, ps.eventSeq)
	if ps.shifted(next) {
		// Make the next poll a reconcile: it reads every record, and asks
		// the CRM about those it still does not see.
		next.ReconciledAt = time.Time{}
		ps.p.log.Info("the cursor moved far in one poll; the next poll reads the complete export, in case a page shifted",
			"from", ps.cur.Since, "to", next.Since, "pages", ps.pages)
	}
	if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	rev, err := ps.p.store.saveCursor(ctx, next, ps.rev)
	if err != nil {
		return err
	}
	ps.cur, ps.rev = next, rev
	return nil
}

// shifted reports whether the next poll, which reads from next.Since less
// the overlap, could miss a change this pass skipped without noticing: an
// export paged by offset shifts back by one when a customer already
// returned is deleted, and then skips a record while nobody comes twice.
// A change this pass did not publish is stamped at least at its starting
// cursor less the CRM's clock lag, so it is at risk when the cursor moved
// on by more than a quarter of the overlap (never less than two
// intervals), over several pages: after an outage, say. A complete export
// checks what it missed itself (reconcile), and a first start leaves what
// it skipped to the next reconcile.
func (ps *pass) shifted(next cursor) bool {
	if ps.full || ps.unstable || ps.pages < 2 || next.Since == ps.cur.Since {
		return false
	}
	from, err := time.Parse(time.RFC3339Nano, ps.cur.Since)
	return err == nil && ps.maxAt.Sub(from) > max(ps.p.cfg.Overlap/4, 2*ps.p.cfg.Interval)
}
