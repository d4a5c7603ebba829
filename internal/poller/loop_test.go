package poller

import (
	"context"
	"iter"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// staleCRM is a CRM whose complete export, once armed, fetches page 2 and
// then holds it until released: the page the poller gets is as the CRM
// was before the hold.
type staleCRM struct {
	CRM
	mu      sync.Mutex
	armed   bool
	held    chan struct{} // closed once page 2 is held
	release chan struct{}
}

func (s *staleCRM) arm() (held, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.held, s.release = true, make(chan struct{}), make(chan struct{})
	return s.held, s.release
}

func (s *staleCRM) Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error] {
	s.mu.Lock()
	armed := s.armed && since.IsZero()
	held, release := s.held, s.release
	if armed {
		s.armed = false
	}
	s.mu.Unlock()
	if !armed {
		return s.CRM.Export(ctx, since)
	}
	return func(yield func(crm.ExportPage, error) bool) {
		n := 0
		for page, err := range s.CRM.Export(ctx, since) {
			if n++; n == 2 {
				close(held)
				select {
				case <-release:
				case <-ctx.Done():
					return
				}
			}
			if !yield(page, err) {
				return
			}
		}
	}
}

// Issue 13: incremental polls do not wait behind a complete export. While
// a resync's complete export is held at its second page (fetched before
// the changes), the incremental polls beside it publish a change of a
// customer on that page and one on a page it read already. The complete
// export then reads the stale page: it publishes nothing for the customer
// an incremental poll published since (no event twice, none out of
// order), and the read model ends as the CRM.
func TestIncrementalPollsBesideCompleteExport(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(12)
	s := &staleCRM{CRM: r.client()}
	in := r.start(r.cfg, s, func(p *Poller) { p.besideFrom = 0 })
	in.polls(t, 1)
	order := pgExportOrder(r.sim)
	before := pgRecords(r.sim)
	read, stale := order[0], order[4] // on page 1, read; on page 2, held

	held, release := s.arm()
	var (
		last   ResyncProgress
		runErr error
		wg     sync.WaitGroup
	)
	wg.Go(func() { last, runErr = r.resyncClient().Run(context.Background(), nil) })
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("after 30s: the resync's export did not reach its second page")
	}
	for i, id := range []string{read, stale} {
		name := []string{"Read", "Stale"}[i]
		if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.LastName = ptr(name) }); err != nil {
			t.Fatal(err)
		}
	}
	events := r.waitEvents(2) // published beside the held complete export
	close(release)
	wg.Wait()
	if runErr != nil || last.State != ResyncDone || last.Events != 0 {
		t.Fatalf("resync: got %+v, %v; want it done without events", last, runErr)
	}
	in.polls(t, 2)
	if got := r.events(); len(got) != 2 {
		t.Fatalf("got %d events %v, want 2: each change once", len(got), got)
	}
	got := map[string]stored{}
	for _, e := range events {
		got[e.CustomerID] = e
	}
	for _, id := range []string{read, stale} {
		e, ok := got[id]
		now, _ := r.sim.Customer(id)
		if !ok || e.Change != Updated || !slices.Equal(e.Fields, []string{"lastName"}) ||
			!pgSame(t, e.Before, before[id]) || !pgSame(t, e.After, now.Raw) {
			t.Errorf("%s: got %+v, want updated lastName from its record before to its record now", id, e)
		}
	}
	r.waitModel()
}
