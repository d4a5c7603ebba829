package poller

import (
	"slices"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// TestBulkPageRepeatsCustomerInFlight: a silent first start's pages are
// recorded in a pipeline (bulk.go), so a customer of page 1 is not yet in
// the index with its chunk when page 3 shows it again, changed while the
// export was paged (keyset paging: it moved to the end). The change is
// applied once the pages before are recorded, against the record saved
// in page 1's chunk: one updated event from that record to the new one,
// and the new one in the state and the read model.
func TestBulkPageRepeatsCustomerInFlight(t *testing.T) {
	clk := newPgClock(time.Now().UTC().Truncate(time.Second))
	r := newRig(t, crmsim.Options{PageSize: 2, Paging: crmsim.PagingKeyset, Now: clk.Now})
	r.sim.Seed(4)
	order := pgExportOrder(r.sim)
	first := pgRecords(r.sim)
	moved := order[0]
	g := newPgGate(r.client())
	in := r.start(r.cfg, g, nil)
	var read []string
	var now crm.Customer
	g.pass(t, pgPass{after: func(n int, page crm.ExportPage) {
		for _, c := range page.Items {
			read = append(read, c.ID)
		}
		if n == 1 {
			clk.Add(time.Second)
			now = pgUpdate(t, r.sim, moved, func(c *crm.Customer) { c.InternalNote = ptr("moved") })
		}
	}})
	if want := append(order[:4:4], moved); !slices.Equal(read, want) {
		t.Fatalf("the first start read %v, want %v", read, want)
	}
	if s := in.p.Status(); s.Polls != 1 || s.Err != nil {
		t.Fatalf("polls %d, err %v; want 1 complete poll", s.Polls, s.Err)
	}
	evs := r.events()
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1 (the moved customer's update)", len(evs))
	}
	if e := evs[0]; e.CustomerID != moved || e.Change != Updated || !pgSame(t, e.Before, first[moved]) || !pgSame(t, e.After, now.Raw) {
		t.Fatalf("got %s event for %s from %s to %s; want updated for %s from its first record to its changed one",
			e.Change, e.CustomerID, e.Before, e.After, moved)
	}
	models, err := r.modelRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 4 || !pgSame(t, models[moved], now.Raw) {
		t.Fatalf("read model: %d entries, %s's %s; want 4, its changed record", len(models), moved, models[moved])
	}
	// The state holds the changed record: the next pass publishes nothing.
	g.pass(t, pgPass{})
	if n := len(r.events()); n != 1 {
		t.Fatalf("got %d events after the next pass, want still 1", n)
	}
}
