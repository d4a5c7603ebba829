package poller

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/gormic/crm-bridge/internal/lease"
)

// lane is what the passes of one lead share. One pass at a time holds
// its turn and writes: an incremental poll for the whole of it, a complete
// export that runs beside the incremental polls (in the background) for
// one page, or one step, at a time. So an incremental poll waits for at
// most one page of a complete export, and no two passes write the same
// customer at once.
type lane struct {
	turn sync.Mutex
	// The fields below are guarded by turn.
	x   *index
	cur cursor // as saved
	rev uint64 // the cursor's revision
	// behind is set when a pass failed: events it published may be
	// unsaved, and the next pass catches up first.
	behind bool
	// beside is, while a complete export runs in the background, every
	// customer the incremental polls saw since it began; nil otherwise.
	// That export leaves them alone: it may have read their records
	// before an incremental poll published a newer one.
	beside map[idHash]struct{}
	// forced is set when an incremental poll beside a complete export
	// asks for another (pass.shifted): the one under way may have read
	// the skipped record's page already.
	forced bool
}

// touch notes that a pass other than the complete export in the
// background (behind: the pass is that one) writes customer h. Called in
// the turn.
func (ln *lane) touch(h idHash, behind bool) {
	if ln != nil && ln.beside != nil && !behind {
		ln.beside[h] = struct{}{}
	}
}

// besideFrom is how many customers the state must hold for a complete
// export to run in the background, beside the incremental polls: one of
// fewer takes about as long as an incremental poll, and runs in the front.
const besideFrom = 10_000

// poll is the active poller's work: it claims the cursor (so that chunks
// a former poller still writes are refused), rebuilds the index from the
// state, then polls every Interval until ctx ends or the lease is lost. A
// poll that fails is retried with backoff from the same cursor. A
// complete export of many customers (Poller.besideFrom), once they are
// recorded and the read model filled, runs in the background, beside the
// incremental polls.
func (p *Poller) poll(ctx context.Context, ls *lease.Lease) error {
	ln, filled, err := p.claim(ctx, ls)
	if err != nil {
		return err
	}
	sc := &schedule{p: p, ln: ln, ls: ls, filled: filled, bo: backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(time.Second),
		backoff.WithMaxInterval(max(p.cfg.Interval, 5*time.Second)),
		backoff.WithMaxElapsedTime(0))}
	defer func() { sc.bg.stop() }()
	for {
		ps, reported := sc.next()
		if sc.behind(ctx, ps, reported) {
			continue
		}
		err := ps.runFront(ctx)
		if reported != nil {
			reported(err)
		}
		wait, err := sc.finished(ctx, ps, err)
		if err == nil {
			err = sc.reap(ctx, false)
		}
		if err == nil {
			err = sc.pause(ctx, wait)
		}
		if err != nil {
			return err
		}
	}
}

// schedule is the poll loop's state during one lead.
type schedule struct {
	p      *Poller
	ln     *lane
	ls     *lease.Lease
	filled bool // the read model was filled
	bo     backoff.BackOff
	no     uint32      // the last pass's number
	bg     *background // the complete export in the background, if any
}

// next returns the next pass: a complete export when one is due (or a
// resync was asked for), else an incremental poll; and, for a resync, the
// function that reports its outcome.
func (sc *schedule) next() (*pass, func(error)) {
	sc.no++
	p, ln := sc.p, sc.ln
	start := p.cfg.Now()
	ps := &pass{p: p, ln: ln, x: ln.x, ls: sc.ls, no: sc.no, start: start}
	if sc.bg == nil {
		// While a complete export runs in the background, a resync
		// asked for joins it if it is one, or waits for it to end.
		ps.resync = p.resyncs.begin(start) // resync.go
	}
	ln.turn.Lock()
	ps.cur, ps.rev = ln.cur, ln.rev
	ln.turn.Unlock()
	ps.full = ps.resync || !sc.filled || !ps.cur.Initialized || ps.cur.Since == "" ||
		start.Sub(ps.cur.ReconciledAt) >= p.cfg.ReconcileInterval
	var reported func(error)
	if ps.resync {
		reported = p.reportResync(ps)
	}
	return ps, reported
}

// behind starts ps in the background and reports true when it is a
// complete export that may run there: the customers recorded, the read
// model filled, the state large (Poller.besideFrom), none running. While
// one runs, ps is an incremental poll.
func (sc *schedule) behind(ctx context.Context, ps *pass, reported func(error)) bool {
	if !ps.full {
		return false
	}
	if sc.bg != nil {
		ps.full = false // the one under way will do
		return false
	}
	sc.ln.turn.Lock()
	large := len(sc.ln.x.m) >= sc.p.besideFrom
	sc.ln.turn.Unlock()
	if !large || !sc.filled || !ps.cur.Initialized || ps.cur.Since == "" {
		return false
	}
	sc.bg = sc.p.startBackground(ctx, ps, reported)
	return true
}

// pause waits wait, or less when a resync is asked for; the complete
// export in the background that ends meanwhile is reaped at once. (A
// resync asked for while it ran begins at the next poll.)
func (sc *schedule) pause(ctx context.Context, wait time.Duration) error {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		var bgDone <-chan struct{}
		if sc.bg != nil {
			bgDone = sc.bg.done
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case <-sc.p.resyncs.wake(): // a resync was asked for: at once
			return nil
		case <-bgDone:
			if err := sc.reap(ctx, true); err != nil {
				return err
			}
		}
	}
}

// claim claims the cursor, rebuilds the index, deletes spent chunks and
// catches up with events published but not saved (catchUp). It returns
// the lane and whether the read model was filled.
func (p *Poller) claim(ctx context.Context, ls *lease.Lease) (*lane, bool, error) {
	cur, rev, err := p.store.cursor(ctx)
	if err != nil {
		return nil, false, err
	}
	if rev, err = p.store.saveCursor(ctx, cur, rev); err != nil {
		return nil, false, err
	}
	start := p.cfg.Now()
	p.modelw.forget() // others may have written the model since this process last did
	x, empty, err := p.store.rebuild(ctx)
	if err != nil {
		return nil, false, err
	}
	p.dropChunks(ctx, empty)
	ln := &lane{x: x, cur: cur, rev: rev}
	caught, err := p.catchUp(ctx, ls, ln, cur.EventSeq)
	if err != nil {
		return nil, false, err
	}
	filled := p.loadModelStatus(ctx)
	p.log.Info("poller state loaded", "customers", len(x.m), "chunks", len(x.chunks), "since", cur.Since,
		"initialized", cur.Initialized, "caught_up", caught, "model_filled", filled, "took", time.Since(start).Round(time.Millisecond))
	return ln, filled, nil
}

// runFront runs an incremental poll, or a complete export that cannot run
// in the background (the first, or one that fills the read model), all of
// it in the lane's turn.
func (ps *pass) runFront(ctx context.Context) error {
	pctx, span := ps.p.startPoll(ctx, ps)
	ln := ps.ln
	ln.turn.Lock()
	if ln.beside != nil {
		ps.here = make(map[idHash]struct{})
	}
	err := ps.mark(pctx)
	if err == nil && ln.behind {
		_, err = ps.p.catchUp(pctx, ps.ls, ln, ln.cur.EventSeq)
	}
	if err == nil {
		ln.behind = false
		err = ps.run(pctx)
	}
	if err != nil {
		ln.behind = true
	}
	ln.turn.Unlock()
	endPoll(span, ps, err)
	return err
}

// finished handles the outcome of a pass: on success it records it
// (done); on failure it returns how long to back off, or the error that
// ends the lead (fenced, lease lost, ctx ended).
func (sc *schedule) finished(ctx context.Context, ps *pass, err error) (time.Duration, error) {
	p := sc.p
	kind := ps.kind()
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case errors.Is(err, errFenced), errors.Is(err, lease.ErrLost):
		p.metrics.passes.WithLabelValues(kind, "error").Inc()
		return 0, err
	case err != nil:
		p.metrics.passes.WithLabelValues(kind, "error").Inc()
		wait := sc.bo.NextBackOff()
		p.setStatus(func(s *Status) { s.Err = err })
		p.log.Warn("poll failed; retrying from the same cursor", "kind", kind, "err", err, "retry_in", wait.Round(time.Millisecond),
			"lag", p.Status().Lag(p.cfg.Now()).Round(time.Millisecond))
		return wait, nil
	}
	sc.done(ctx, ps)
	return time.Until(ps.start.Add(p.cfg.Interval)), nil
}

// done records a pass that completed: the status, the metrics, the read
// model's status, and a log line.
func (sc *schedule) done(ctx context.Context, ps *pass) {
	p := sc.p
	p.metrics.passes.WithLabelValues(ps.kind(), "ok").Inc()
	sc.bo.Reset()
	// A complete export that recorded the customers filled the read
	// model, or repaired it.
	sc.filled = sc.filled || (ps.full && ps.cur.Initialized)
	// A complete export in the background ends after incremental polls
	// that started later: the last complete poll is the latest start.
	p.setStatus(func(s *Status) {
		if ps.start.After(s.LastComplete) {
			s.LastComplete = ps.start
		}
		s.Err = nil
		s.Polls++
	})
	last := p.Status().LastComplete
	p.writeModelStatus(ctx, sc.filled, last)
	p.metrics.lastComplete.Set(float64(last.UnixMilli()) / 1000)
	level := slog.LevelDebug
	if ps.events > 0 || ps.full {
		level = slog.LevelInfo
	}
	p.log.Log(ctx, level, "poll done", "kind", ps.kind(), "pages", ps.pages, "records", ps.records, "events", ps.events,
		"since", sinceText(ps.since), "cursor", ps.cur.Since, "stable", !ps.unstable, "took", time.Since(ps.start).Round(time.Millisecond))
}

// kind is the pass's kind in metrics and logs: changes or reconcile.
func (ps *pass) kind() string {
	if ps.full {
		return "reconcile"
	}
	return "changes"
}

// background is a complete export running beside the incremental polls.
type background struct {
	ps     *pass
	cancel context.CancelFunc
	done   chan struct{}
	err    error // once done is closed
}

// startBackground starts ps, a complete export, in the background;
// reported, when not nil, gets its outcome (a resync's).
func (p *Poller) startBackground(ctx context.Context, ps *pass, reported func(error)) *background {
	ps.background = true
	ln := ps.ln
	ln.turn.Lock()
	ln.beside, ln.forced = make(map[idHash]struct{}), false
	ln.turn.Unlock()
	bctx, cancel := context.WithCancel(ctx)
	bg := &background{ps: ps, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(bg.done)
		pctx, span := p.startPoll(bctx, ps)
		err := ps.runBehind(pctx)
		endPoll(span, ps, err)
		if reported != nil {
			reported(err)
		}
		bg.err = err
	}()
	return bg
}

// runBehind runs a complete export in the background: it takes the lane's
// turn for each step (pass.step) and gives it back between them.
func (ps *pass) runBehind(ctx context.Context) error {
	ln := ps.ln
	err := ps.step(func() error {
		if ln.behind {
			if _, err := ps.p.catchUp(ctx, ps.ls, ln, ln.cur.EventSeq); err != nil {
				return err
			}
			ln.behind = false
		}
		return ps.mark(ctx)
	})
	if err == nil {
		err = ps.run(ctx)
	}
	ln.turn.Lock()
	if err != nil {
		ln.behind = true
	}
	ln.beside = nil
	ln.turn.Unlock()
	return err
}

// step runs f in the lane's turn when the pass runs in the background;
// a pass in the front holds the turn throughout.
func (ps *pass) step(f func() error) error {
	if !ps.background {
		return f()
	}
	ps.ln.turn.Lock()
	defer ps.ln.turn.Unlock()
	return f()
}

// stop cancels the background export, if any, and waits for it to end.
func (bg *background) stop() {
	if bg == nil {
		return
	}
	bg.cancel()
	<-bg.done
}

// reap handles the outcome of the complete export in the background
// once it has ended (waiting for that when wait, else only if it has),
// and forgets it. It returns the error that ends the lead, if any.
func (sc *schedule) reap(ctx context.Context, wait bool) error {
	if sc.bg == nil {
		return nil
	}
	if !wait {
		select {
		case <-sc.bg.done:
		default:
			return nil
		}
	}
	<-sc.bg.done
	bg := sc.bg
	sc.bg = nil
	_, err := sc.finished(ctx, bg.ps, bg.err)
	return err
}
