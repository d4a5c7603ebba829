package poller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
)

// noteDeleted notes a delete through p, as the commands processor does.
func noteDeleted(t *testing.T, p *Poller, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.NoteDeleted(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// notes returns how many delete notes DeletesBucket holds.
func (r *rig) notes() int {
	r.t.Helper()
	kv, err := r.js.KeyValue(context.Background(), DeletesBucket)
	if err != nil {
		r.t.Fatal(err)
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	return n
}

// Issue 12, part 6: a delete the bridge applied itself (noted through
// the standby's process) is published within a poll or two, not at the
// next complete export (an hour away); the next complete export does not
// publish it again; noting it again, or noting a customer the poller
// never knew, publishes nothing.
func TestAppliedDeleteAtOnce(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(5)
	in := r.start(r.cfg, nil, nil)
	in.polls(t, 1)
	standby := r.start(r.cfg, nil, nil)
	gone := r.sim.Customers()[2].ID
	if err := r.sim.Delete(gone); err != nil {
		t.Fatal(err)
	}
	noteDeleted(t, standby.p, gone)
	evs := r.waitEvents(1)
	if evs[0].CustomerID != gone || evs[0].Change != Deleted {
		t.Fatalf("got %+v, want deleted of %s", evs[0], gone)
	}
	eventually.True(t, 10*time.Second, "the note cleared", func() bool { return r.notes() == 0 })
	// The same apply wrote the read model: the customer's entry is gone
	// before any complete export could have repaired it.
	kv, _, err := model.Ensure(context.Background(), r.js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(context.Background(), model.Key(gone)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("read model entry of %s after its delete: got %v, %v, want none", gone, e, err)
	}

	noteDeleted(t, standby.p, gone)
	noteDeleted(t, in.p, "cus_never_seen")
	c := r.resyncClient()
	if _, err := c.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	in.polls(t, 2)
	if evs := r.events(); len(evs) != 1 {
		t.Errorf("events after a resync and the notes again: got %d (%+v), want 1", len(evs), evs)
	}
	if n := r.notes(); n != 0 {
		t.Errorf("notes left: got %d, want 0", n)
	}
}

// A note of a customer the CRM still has (the delete failed later, or the
// note is stale) publishes nothing and is cleared; one the CRM cannot
// answer for stays for the next poll.
func TestAppliedDeleteNotConfirmed(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(3)
	in := r.start(r.cfg, nil, nil)
	in.polls(t, 1)
	still := r.sim.Customers()[0].ID
	noteDeleted(t, in.p, still)
	in.polls(t, 2)
	if n := r.count(); n != 0 {
		t.Errorf("events: got %d, want 0 for a customer the CRM still has", n)
	}
	if n := r.notes(); n != 0 {
		t.Errorf("notes left: got %d, want 0", n)
	}

	gone := r.sim.Customers()[1].ID
	if err := r.sim.Delete(gone); err != nil {
		t.Fatal(err)
	}
	r.sim.ForceError(crmsim.OpGet, "InternalError", 1000)
	noteDeleted(t, in.p, gone)
	in.polls(t, 2)
	if n := r.notes(); n != 1 {
		t.Errorf("notes while the CRM's get fails: got %d, want 1", n)
	}
	r.sim.ForceError(crmsim.OpGet, "", 0)
	r.waitEvents(1)
}
