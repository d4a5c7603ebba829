package poller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
)

// setModelStream changes the read model stream's configuration with f.
func setModelStream(t *testing.T, js jetstream.JetStream, f func(*jetstream.StreamConfig)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, model.Stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	f(&cfg)
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// startFilled seeds the CRM with n customers and starts a poller of the
// rig's config that reads the complete export only at its first poll; it
// returns the config and the poller once the model holds every customer.
func (r *rig) startFilled(n int) (Config, *instance) {
	r.t.Helper()
	r.sim.Seed(n)
	cfg := r.cfg
	cfg.ReconcileInterval = time.Hour
	in := r.start(cfg, nil, nil)
	in.polls(r.t, 1)
	r.waitModel()
	return cfg, in
}

// rename gives each of ids a new first name in the CRM.
func (r *rig) rename(ids []crm.Customer, name string) {
	r.t.Helper()
	for i, c := range ids {
		if _, err := r.sim.UpdateCustomer(c.ID, func(c *crm.Customer) { c.FirstName = fmt.Sprintf("%s%d", name, i) }); err != nil {
			r.t.Fatal(err)
		}
	}
}

// updates counts the updated events of each customer.
func (r *rig) updates() map[string]int {
	r.t.Helper()
	n := map[string]int{}
	for _, ev := range r.events() {
		if ev.Change == Updated {
			n[ev.CustomerID]++
		}
	}
	return n
}

// TestReadModelBatchRefused: when the model's stream stops allowing fast
// batches after the poller started (an older bridge process updated the
// bucket), the poller writes the model's entries one by one from the
// batch that was refused on: no poll fails, nothing is lost.
func TestReadModelBatchRefused(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 7})
	_, in := r.startFilled(20)
	if !in.p.batched.Load() {
		t.Fatal("the poller does not write the model in fast batches on a server that allows them")
	}
	setModelStream(t, r.js, func(c *jetstream.StreamConfig) { c.AllowBatchPublish = false })
	ids := r.sim.Customers()[:5]
	r.rename(ids, "Refused")
	r.waitModel()
	if in.p.batched.Load() {
		t.Error("the poller still writes fast batches after the stream refused one")
	}
	if err := in.p.Status().Err; err != nil {
		t.Errorf("poll error %v, want none: a refused batch is written again one by one", err)
	}
	for _, c := range ids {
		if n := r.updates()[c.ID]; n != 1 {
			t.Errorf("customer %s: %d updated events, want 1", c.ID, n)
		}
	}
}

// TestReadModelBatchFailsPartWay: an entry the server cannot store in the
// middle of a round's fast batch (here one larger than the stream's
// max_msg_size) fails the poll with an error that names the read model,
// and the polls after it fail the same way until the cause is gone; then
// the model follows the CRM, and each change has exactly one event.
func TestReadModelBatchFailsPartWay(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 50})
	cfg, first := r.startFilled(20)
	first.stop(t)

	// One poll sees all the changes, the large one in the middle.
	setModelStream(t, r.js, func(c *jetstream.StreamConfig) { c.MaxMsgSize = 4 << 10 })
	ids := r.sim.Customers()[:9]
	r.rename(ids[:4], "Before")
	if _, err := r.sim.UpdateCustomer(ids[4].ID, func(c *crm.Customer) { c.InternalNote = bigNote(t, 8<<10) }); err != nil {
		t.Fatal(err)
	}
	r.rename(ids[5:], "After")
	in := r.start(cfg, nil, nil)
	var failed error
	eventually.True(t, 30*time.Second, "a poll that fails on the read model", func() bool {
		failed = in.p.Status().Err
		return failed != nil && strings.Contains(failed.Error(), "read model")
	})
	t.Logf("the poll failed: %v", failed)
	if got := in.p.Status().Polls; got != 0 {
		t.Errorf("%d polls completed while the model could not store an entry, want 0", got)
	}

	setModelStream(t, r.js, func(c *jetstream.StreamConfig) { c.MaxMsgSize = -1 })
	in.polls(t, 1)
	r.waitModel()
	updates := r.updates()
	for _, c := range ids {
		if n := updates[c.ID]; n != 1 {
			t.Errorf("customer %s: %d updated events, want 1", c.ID, n)
		}
	}
}
