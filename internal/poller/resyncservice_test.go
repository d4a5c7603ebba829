package poller

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// Poller.Resync is the crm.bridge.resync endpoint's work, from any
// process: here a minimal crm-bridge service (the real one is the query
// service's) calls it in the standby's process; the active poller runs
// the complete export, whose progress carries the reply's start, publishes
// the delete that only it finds, and repairs the model:
// an entry missing, one different, one of a customer gone.
func TestResyncThroughService(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(6)
	in := r.start(r.cfg, nil, nil)
	in.polls(t, 1)
	standby := r.start(r.cfg, nil, nil)
	serveResync(t, standby)

	all := r.sim.Customers()
	gone, missing, different := all[0].ID, all[1].ID, all[2].ID
	if err := r.sim.Delete(gone); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv, _, err := model.Ensure(ctx, r.js, 1)
	if err != nil {
		t.Fatal(err)
	}
	in.polls(t, 1)
	if _, err := kv.Put(ctx, model.Key(gone), all[0].Raw); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, model.Key(missing)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, model.Key(different), []byte(`{"id":"wrong"}`)); err != nil {
		t.Fatal(err)
	}

	nc, _ := natstest.Connect(t, r.srv)
	reports := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe(ResyncProgressSubject("crm"), reports); err != nil {
		t.Fatal(err)
	}
	m, err := nc.Request("crm.bridge.resync", nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		Started time.Time `json:"started"`
	}
	if err := json.Unmarshal(m.Data, &reply); err != nil || reply.Started.IsZero() {
		t.Fatalf("reply %s: %v, want a start", m.Data, err)
	}
	last := lastReport(t, reports, reply.Started)
	if last.State != ResyncDone || last.Deletes != 1 {
		t.Errorf("last report: got %+v, want done with 1 delete", last)
	}
	if evs := r.events(); len(evs) != 1 || evs[0].CustomerID != gone || evs[0].Change != Deleted {
		t.Errorf("events: got %+v, want one deleted of %s", evs, gone)
	}
	checkModel(t, kv, r.sim)
}

// serveResync registers a minimal crm-bridge service on in's connection
// with the crm.bridge.resync endpoint, as the query service does.
func serveResync(t *testing.T, in *instance) {
	t.Helper()
	svc, err := micro.AddService(in.nc, micro.Config{Name: "crm-bridge", Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddEndpoint("resync", micro.HandlerFunc(func(req micro.Request) {
		started, err := in.p.Resync(context.Background())
		if err != nil {
			_ = req.Error("500", err.Error(), nil)
			return
		}
		_ = req.RespondJSON(map[string]time.Time{"started": started})
	}), micro.WithEndpointSubject("crm.bridge.resync"))
	if err != nil {
		t.Fatal(err)
	}
}

// lastReport reads progress reports of the resync begun at started until
// it is done or failed.
func lastReport(t *testing.T, reports <-chan *nats.Msg, started time.Time) ResyncProgress {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case m := <-reports:
			var pr ResyncProgress
			if err := json.Unmarshal(m.Data, &pr); err != nil {
				t.Fatalf("report %s: %v", m.Data, err)
			}
			if pr.Started.Equal(started) && pr.State != ResyncRunning {
				return pr
			}
		case <-deadline.C:
			t.Fatal("no final report within 30s")
		}
	}
}

// checkModel checks that kv holds exactly the simulator's customers.
func checkModel(t *testing.T, kv jetstream.KeyValue, sim *crmsim.Simulator) {
	t.Helper()
	ctx := context.Background()
	want := map[string]json.RawMessage{}
	for _, c := range sim.Customers() {
		want[model.Key(c.ID)] = c.Raw
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range keys.Keys() {
		n++
		e, err := kv.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[k]; !ok || !sameRecord(e.Value(), w) {
			t.Errorf("model %s: got %s, want %s", k, e.Value(), w)
		}
	}
	if n != len(want) {
		t.Errorf("model: got %d entries, want %d", n, len(want))
	}
}
