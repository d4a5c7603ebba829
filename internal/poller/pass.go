package poller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/lease"
)

// pass is one poll: it reads the export from the cursor less the overlap
// (or all of it: full), publishes an event per real change, records what
// it saw, and, when full, finds the customers that are gone.
type pass struct {
	p     *Poller
	ln    *lane
	ls    *lease.Lease
	no    uint32
	full  bool
	start time.Time
	since time.Time
	// resync is set for a complete export asked for (resync.go).
	resync bool
	// background is set for a complete export that runs beside the
	// incremental polls, in the lane's turn one step at a time (loop.go).
	background bool

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
	// here is, for an incremental poll beside a complete export in the
	// background, every customer this pass saw (again).
	here map[idHash]struct{}
	// strays are the read model's entries of customers the state did not
	// hold when a complete export started (readmodel.go).
	strays []stray
	// bulk holds a first start's pages in flight (bulk.go).
	bulk bulkPipe
	// tails are the pipeline rounds whose writes are on their way
	// (tail.go).
	tails tails
	// spent are the chunks the pass left holding no saved record, for
	// dropSpent; guarded by mu.
	spent []uint64
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

func (ps *pass) run(ctx context.Context) error {
	if err := ps.setSince(); err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	var fetching sync.WaitGroup
	defer fetching.Wait()
	defer cancel()
	pages := ps.fetch(fctx, &fetching)
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
		if err := ps.step(func() error { return ps.page(ctx, r.page.Items) }); err != nil {
			return err
		}
		if time.Since(progress) >= progressEvery {
			progress = time.Now()
			ps.logProgress()
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ps.step(func() error { return ps.end(ctx) })
}

// setSince sets where an incremental poll reads from: the cursor less
// the overlap. A complete export reads everything (zero).
func (ps *pass) setSince() error {
	if ps.full {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, ps.cur.Since)
	if err != nil {
		return fmt.Errorf("poller: saved cursor %q: %w", ps.cur.Since, err)
	}
	ps.since = t.Add(-ps.p.cfg.Overlap)
	return nil
}

// fetched is one page of the export, or the error that ended it.
type fetched struct {
	page crm.ExportPage
	err  error
}

// fetch reads the export from ps.since in a goroutine of wg, one page
// ahead of the pass, until ctx ends.
func (ps *pass) fetch(ctx context.Context, wg *sync.WaitGroup) <-chan fetched {
	pages := make(chan fetched, 1)
	wg.Go(func() {
		defer close(pages)
		for page, err := range ps.p.crm.Export(ctx, ps.since) {
			select {
			case pages <- fetched{page, err}:
			case <-ctx.Done():
				return
			}
		}
	})
	return pages
}

// logProgress logs how far a long poll got.
func (ps *pass) logProgress() {
	ps.mu.Lock()
	pages, records, events := ps.pages, ps.records, ps.events
	ps.mu.Unlock()
	took := time.Since(ps.start)
	ps.p.log.Info("poll under way", "pages", pages, "records", records, "events", events,
		"records_per_s", int(float64(records)/took.Seconds()), "took", took.Round(time.Second))
}

// end ends a pass once the export is read: a complete export finds the
// customers that are gone and the read model's strays; then the deletes
// applied through commands, the cursor, and the sparse chunks
// (compact.go).
func (ps *pass) end(ctx context.Context) error {
	if err := ps.bulk.drain(ctx, ps); err != nil {
		return err
	}
	if err := ps.settle(ctx); err != nil {
		return err
	}
	if ps.full {
		if err := ps.reconcile(ctx); err != nil {
			return err
		}
		if err := ps.settle(ctx); err != nil {
			return err
		}
		if err := ps.dropStrays(ctx); err != nil {
			return err
		}
	}
	if err := ps.appliedDeletes(ctx); err != nil {
		return err
	}
	if err := ps.settle(ctx); err != nil {
		return err
	}
	if err := ps.saveCursor(ctx); err != nil {
		return err
	}
	err := ps.compact(ctx)
	ps.dropSpent(ctx)
	return err
}
