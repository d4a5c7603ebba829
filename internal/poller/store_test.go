package poller

import (
	"fmt"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// TestSpentChunkDeleted: once every customer a first start recorded in a
// chunk has its own entry, the chunk is deleted from the state (the former
// bucket refused deletes, and kept every chunk for good).
func TestSpentChunkDeleted(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 10})
	r.sim.Seed(6)
	in := r.start(r.cfg, nil, nil)
	in.polls(t, 1)
	chunks := stateSubjects("crm") + "b.>"
	if n := natstest.Count(r.js, StateStream, chunks); n != 1 {
		t.Fatalf("after the first start: %d chunks, want 1", n)
	}
	for i, c := range r.sim.Customers() {
		pgUpdate(t, r.sim, c.ID, func(c *crm.Customer) { c.LastName = ptr(fmt.Sprintf("Own-%d", i)) })
	}
	r.waitEvents(6)
	eventually.True(t, 30*time.Second, "no chunk left", func() bool {
		return natstest.Count(r.js, StateStream, chunks) == 0
	})
	if n := natstest.Count(r.js, StateStream, stateSubjects("crm")+"c.>"); n != 6 {
		t.Errorf("%d customer entries, want 6", n)
	}
}
