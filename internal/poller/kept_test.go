package poller

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// TestSkippedCustomerKeepsItsChunk: a customer whose saved state is a
// chunk of its own, skipped by a complete export (a page shifted) and
// found unchanged by the reconcile's get, keeps that state: its chunk is
// not deleted, a poller that takes over does not publish its creation
// again, and its next change is an update of the record it had.
//
// TestPropertyPollerFollowsTheCRM found it: the index took such a
// customer out of its chunk as if its own entry had been written, and the
// chunk, left holding nobody, was deleted at the pass's end.
func TestSkippedCustomerKeepsItsChunk(t *testing.T) {
	clk := newPgClock(time.Now().UTC().Truncate(time.Second))
	bclk := newPgClock(time.Now().Add(-1000 * time.Hour))
	r := newRig(t, crmsim.Options{PageSize: 1, Paging: crmsim.PagingOffset, Now: clk.Now})
	r.sim.Seed(3)
	cfg := r.cfg
	cfg.Now = bclk.Now
	cfg.ReconcileInterval = time.Hour
	g := newPgGate(r.client())
	oneChunkEach := func(p *Poller) { p.chunkFrom = 1 }
	in := r.start(cfg, g, oneChunkEach)
	g.pass(t, pgPass{}) // the first start: no events
	first := pgRecords(r.sim)

	// Every customer changed, a page each: each one's state is a chunk of
	// its own, and the first start's chunk is spent.
	for _, id := range pgExportOrder(r.sim) {
		clk.Add(time.Second)
		pgUpdate(t, r.sim, id, func(c *crm.Customer) { c.InternalNote = ptr("chunked") })
	}
	bclk.Add(cfg.ReconcileInterval) // the pass after this one: held already, it started before
	g.pass(t, pgPass{})
	r.waitEvents(3)
	order := pgExportOrder(r.sim)
	deleted, skipped := order[0], order[1]

	// A complete export: deleting the first customer once page 1 is read
	// shifts skipped out of the pages; the reconcile finds it unchanged.
	var read []string
	g.pass(t, pgPass{after: func(n int, page crm.ExportPage) {
		for _, c := range page.Items {
			read = append(read, c.ID)
		}
		if n == 1 {
			if err := r.sim.Delete(deleted); err != nil {
				t.Error(err)
			}
		}
	}})
	if slices.Contains(read, skipped) {
		t.Fatalf("the complete export read %v: the premise is that it skips %s", read, skipped)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got := g.takeGets(); !slices.Equal(got, []string{skipped}) {
		t.Fatalf("the reconcile got %v, want %s: the premise is that it finds it unchanged", got, skipped)
	}
	_, x := rebuilt(ctx, t, r)
	if e, ok := x.m[x.hash(skipped)]; !ok || x.chunkAt(e).seq == 0 {
		t.Fatalf("%s: not in a chunk of the state after the reconcile (known %v, %+v)", skipped, ok, e)
	}

	// A poller that takes over, at a complete export: deleted's deletion
	// to publish (the export before read it), nothing of skipped.
	in.stop(t)
	g.forget()
	bclk.Add(cfg.ReconcileInterval)
	in = r.start(cfg, g, oneChunkEach)
	g.pass(t, pgPass{})
	r.waitEvents(4)
	g.pass(t, pgPass{})
	if n := r.count(); n != 4 {
		t.Errorf("got %d events after a poller took over, want 4", n)
	}

	clk.Add(time.Second)
	pgUpdate(t, r.sim, skipped, func(c *crm.Customer) { c.InternalNote = ptr("changed again") })
	g.pass(t, pgPass{})
	r.waitEvents(5)
	in.stop(t)
	pgChains(t, r.events(), first, pgRecords(r.sim), true)
}
