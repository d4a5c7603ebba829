package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/queries/querytest"
)

// modelKV returns the read model's bucket.
func (r *rig) modelKV() jetstream.KeyValue {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := r.js.KeyValue(ctx, model.Bucket)
	if err != nil {
		r.t.Fatal(err)
	}
	return kv
}

// modelRecords returns every record the read model holds, by customer id.
func (r *rig) modelRecords() (map[string]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return querytest.Records(ctx, r.modelKV())
}

// crmRecords returns every record of the CRM's complete export, by id.
func (r *rig) crmRecords() (map[string]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]json.RawMessage{}
	for page, err := range r.client().Export(ctx, time.Time{}) {
		if err != nil {
			return nil, err
		}
		for _, c := range page.Items {
			out[c.ID] = c.Raw
		}
	}
	return out, nil
}

// modelDiff says how the read model differs from the CRM; "" when it
// holds exactly the CRM's customers and records (the stub of a record too
// large for one NATS message).
func (r *rig) modelDiff() string {
	r.t.Helper()
	got, err := r.modelRecords()
	if err != nil {
		return err.Error()
	}
	want, err := r.crmRecords()
	if err != nil {
		return err.Error()
	}
	limit := int(r.js.Conn().MaxPayload())
	for id, w := range want {
		switch g, ok := got[id]; {
		case !ok:
			return fmt.Sprintf("customer %s: not in the read model", id)
		case len(w) > limit:
			if !sameRecord(g, modelValue(id, w, limit)) {
				return fmt.Sprintf("customer %s: got %s, want the stub of its %d-byte record", id, g, len(w))
			}
		case !sameRecord(g, w):
			return fmt.Sprintf("customer %s: got %s, want %s", id, g, w)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			return fmt.Sprintf("customer %s: in the read model, not in the CRM", id)
		}
	}
	return ""
}

// waitModel waits until the read model equals the CRM and its status says
// filled.
func (r *rig) waitModel() {
	r.t.Helper()
	var diff string
	eventually.True(r.t, 30*time.Second, "the read model equals the CRM", func() bool {
		diff = r.modelDiff()
		return diff == "" && r.modelStatus().Filled
	})
	if diff != "" {
		r.t.Fatal(diff)
	}
}

// modelStatus returns the read model's status.
func (r *rig) modelStatus() model.Status {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := r.js.KeyValue(ctx, model.StatusBucket)
	if err != nil {
		r.t.Fatal(err)
	}
	s, err := model.ReadStatus(ctx, kv)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// TestReadModelFollowsTheCRM: a first start fills the read model, silent
// or with created events, and it follows creates, updates, touches,
// archives and deletes.
func TestReadModelFollowsTheCRM(t *testing.T) {
	for _, tc := range []struct {
		name          string
		initialEvents bool
	}{
		{name: "silent first start"},
		{name: "created events at the first start", initialEvents: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, crmsim.Options{PageSize: 7})
			r.sim.Seed(30)
			cfg := r.cfg
			cfg.InitialEvents = tc.initialEvents
			// No complete export but the first: the changes reach the
			// model by the poll's own writes, not by a repair.
			cfg.ReconcileInterval = time.Hour
			in := r.start(cfg, nil, nil)
			in.polls(t, 1)
			r.waitModel()
			if s := r.modelStatus(); s.AsOf.IsZero() {
				t.Errorf("status %+v: got no asOf, want when the last poll started", s)
			}
			if n, want := r.count(), map[bool]int{false: 0, true: 30}[tc.initialEvents]; n != want {
				t.Errorf("got %d events after the first start, want %d", n, want)
			}
			ids := r.sim.Customers()
			if _, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "New", Phone: "5550001111"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.sim.UpdateCustomer(ids[0].ID, func(c *crm.Customer) { c.FirstName = "Changed" }); err != nil {
				t.Fatal(err)
			}
			if _, err := r.sim.Touch(ids[1].ID); err != nil {
				t.Fatal(err)
			}
			if _, err := r.sim.Archive(ids[2].ID); err != nil {
				t.Fatal(err)
			}
			r.waitModel()
			// Deletes are found by a complete export.
			in.stop(t)
			if err := r.sim.Delete(ids[3].ID); err != nil {
				t.Fatal(err)
			}
			cfg.ReconcileInterval = time.Nanosecond
			r.start(cfg, nil, nil).polls(t, 1)
			r.waitModel()
		})
	}
}

// TestReadModelAfterCrashBetweenEventAndModel: a poller that dies after an
// event is stored and before the read model entry is written leaves the
// model behind; the next poller brings it up, also for a customer deleted
// in between (catchUp, then the reconcile).
func TestReadModelAfterCrashBetweenEventAndModel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		delete    bool
		reconcile time.Duration
	}{
		// No complete export after the first: the catch-up alone
		// writes the entry.
		{name: "created", reconcile: time.Hour},
		{name: "created, then deleted before the next poller", delete: true, reconcile: time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, crmsim.Options{PageSize: 5})
			r.sim.Seed(10)
			cfg := r.cfg
			cfg.ReconcileInterval = tc.reconcile
			first, crashed := r.startCrashing(t, cfg)
			first.polls(t, 1)
			c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Crash", Phone: "5550002222"})
			if err != nil {
				t.Fatal(err)
			}
			if ev := <-crashed; ev.CustomerID != c.ID {
				t.Fatalf("crashed on %s, want %s", ev.CustomerID, c.ID)
			}
			if got, _ := r.modelRecords(); got[c.ID] != nil {
				t.Fatalf("the read model holds %s before the crashed poller wrote it", c.ID)
			}
			if tc.delete {
				if err := r.sim.Delete(c.ID); err != nil {
					t.Fatal(err)
				}
			}
			first.nc.Close()
			second := r.start(cfg, nil, nil)
			second.polls(t, 2)
			r.waitModel()
		})
	}
}

// TestReadModelWatcherStartedLate: a key-value watcher started after the
// first start sees every customer, then each change.
func TestReadModelWatcherStartedLate(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 4})
	r.sim.Seed(12)
	r.startReconciling(200 * time.Millisecond)
	r.waitModel()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := r.modelKV().WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next := func() jetstream.KeyValueEntry {
		t.Helper()
		select {
		case e := <-w.Updates():
			return e
		case <-ctx.Done():
			t.Fatal("watcher: nothing more")
			return nil
		}
	}
	seen := map[string]bool{}
	for e := next(); e != nil; e = next() {
		seen[e.Key()] = true
	}
	for _, c := range r.sim.Customers() {
		if !seen[model.Key(c.ID)] {
			t.Errorf("watcher: customer %s not among the current records", c.ID)
		}
	}
	if len(seen) != 12 {
		t.Errorf("watcher: got %d current records, want 12", len(seen))
	}
	id := r.sim.Customers()[5].ID
	if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.FirstName = "Watched" }); err != nil {
		t.Fatal(err)
	}
	if e := next(); e.Key() != model.Key(id) || e.Operation() != jetstream.KeyValuePut || object(t, e.Value())["firstName"] != "Watched" {
		t.Errorf("watcher: got %s %s %s, want the update of %s", e.Operation(), e.Key(), e.Value(), id)
	}
	if err := r.sim.Delete(id); err != nil {
		t.Fatal(err)
	}
	if e := next(); e.Key() != model.Key(id) || e.Operation() != jetstream.KeyValueDelete {
		t.Errorf("watcher: got %s %s, want the delete of %s", e.Operation(), e.Key(), id)
	}
}

// TestReadModelRepair: a complete export repairs an entry removed, one
// altered, and one left for a customer who is gone, without an event.
func TestReadModelRepair(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 4})
	r.sim.Seed(10)
	r.startReconciling(300 * time.Millisecond)
	r.waitModel()
	events := r.count()

	kv := r.modelKV()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ids := r.sim.Customers()
	if err := kv.Delete(ctx, model.Key(ids[0].ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, model.Key(ids[1].ID), []byte(`{"id":"`+ids[1].ID+`","firstName":"Altered"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, model.Key("gone-customer"), []byte(`{"id":"gone-customer"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "not.a.customer", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if r.modelDiff() == "" {
		t.Fatal("the read model still equals the CRM after it was tampered with")
	}
	r.waitModel()
	if got, _ := kv.Get(ctx, "not.a.customer"); got != nil {
		t.Errorf("entry under a key no customer has: got %s, want it deleted", got.Value())
	}
	if n := r.count(); n != events {
		t.Errorf("got %d events after the repair, want %d: a repair publishes nothing", n, events)
	}
}

// TestReadModelFilledOnOldState: a bridge started on state written before
// the read model existed fills the model at its first poll, a complete
// export, and publishes nothing.
func TestReadModelFilledOnOldState(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 6})
	r.sim.Seed(20)
	cfg := r.cfg
	cfg.ReconcileInterval = time.Hour
	first := r.start(cfg, nil, nil)
	first.polls(t, 1)
	r.waitModel()
	first.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range []string{model.Bucket, model.StatusBucket} {
		if err := r.js.DeleteKeyValue(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	second := r.start(cfg, nil, nil)
	second.polls(t, 1)
	r.waitModel()
	if n := r.count(); n != 0 {
		t.Errorf("got %d events, want none", n)
	}
}

// TestReadModelOversizedRecord: a record too large for one NATS message is
// a stub in the read model, and the record again once it fits.
func TestReadModelOversizedRecord(t *testing.T) {
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir(), MaxPayload: 64 << 10})
	r := newRigOn(t, crmsim.Options{PageSize: 7}, srv)
	r.sim.Seed(5)
	id := r.sim.Customers()[0].ID
	if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.InternalNote = bigNote(t, 100<<10) }); err != nil {
		t.Fatal(err)
	}
	cfg := r.cfg
	cfg.ReconcileInterval = 200 * time.Millisecond
	in := r.start(cfg, nil, nil)
	in.polls(t, 2)
	got, err := r.modelRecords()
	if err != nil {
		t.Fatal(err)
	}
	var st model.Stub
	if err := json.Unmarshal(got[id], &st); err != nil || st.ID != id || !st.Truncated || st.Bytes < 100<<10 || st.UpdatedAt == "" {
		t.Errorf("oversized customer's entry: got %s, want its stub", got[id])
	}
	if len(got) != 5 {
		t.Errorf("got %d entries, want 5", len(got))
	}
	if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.InternalNote = ptr("short") }); err != nil {
		t.Fatal(err)
	}
	r.waitModel()
}
