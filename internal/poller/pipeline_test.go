package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// loadMany reads what load reads, for customers in chunks (a first start
// records them so), with entries of their own (changed since), deleted
// (a delete marker), and unknown to the state.
func TestLoadManyMatchesLoad(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 7})
	r.sim.Seed(40)
	cfg := r.cfg
	cfg.ReconcileInterval = 200 * time.Millisecond
	in := r.start(cfg, nil, nil)
	in.polls(t, 1)
	customers := r.sim.Customers()
	for i, c := range customers[:12] {
		if _, err := r.sim.UpdateCustomer(c.ID, func(c *crm.Customer) { c.LastName = ptr(fmt.Sprint("Batch", i)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.sim.Delete(customers[0].ID); err != nil {
		t.Fatal(err)
	}
	r.waitEvents(12) // 11 updated, 1 deleted
	in.stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := ensureState(ctx, r.js, "crm", 1)
	if err != nil {
		t.Fatal(err)
	}
	st := newStore(r.js, stream, "crm", "")
	x, _, err := st.rebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var cs []change
	for _, c := range append(customers, crm.Customer{ID: "never-seen"}) {
		h := x.hash(c.ID)
		e, known := x.m[h]
		cs = append(cs, change{id: c.ID, h: h, known: known || c.ID == customers[0].ID, chunk: x.chunkSeq(e)})
	}
	svs, loaded, err := st.loadMany(ctx, cs, 4)
	if err != nil {
		t.Fatal(err)
	}
	chunked := 0
	for i, c := range cs {
		if !loaded[i] {
			t.Errorf("%s: not loaded", c.id)
			continue
		}
		if c.chunk != 0 {
			chunked++
		}
		want := saved{}
		if c.known {
			if want, err = st.load(ctx, c.id, c.chunk); err != nil {
				t.Fatal(err)
			}
		}
		got := svs[i]
		if string(got.record) != string(want.record) || got.digest != want.digest || got.eventSeq != want.eventSeq ||
			got.rev != want.rev || got.oversized != want.oversized {
			t.Errorf("%s: got %+v, want %+v", c.id, got, want)
		}
	}
	if chunked == 0 || chunked == len(cs)-1 {
		t.Errorf("%d of %d customers in chunks, want some and not all", chunked, len(cs))
	}
}

// A first start with initial events saves the customers' records in
// chunks, each with its event's sequence, as a first start without
// events does: no entry per customer. A customer's next change is an
// event whose before is the chunk's record.
func TestInitialEventsSavedInChunks(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 7})
	r.sim.Seed(20)
	cfg := r.cfg
	cfg.InitialEvents = true
	in := r.start(cfg, nil, nil)
	in.polls(t, 1)
	events := r.waitEvents(20)
	if n := natstest.Count(r.js, StateStream, stateSubjects("crm")+"c.>"); n != 0 {
		t.Errorf("got %d customer entries after the first start, want 0: its records go in chunks", n)
	}
	if n := natstest.Count(r.js, StateStream, stateSubjects("crm")+"b.>"); n == 0 {
		t.Error("got no chunk after the first start")
	}
	id := events[3].CustomerID
	if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.LastName = ptr("Chunked") }); err != nil {
		t.Fatal(err)
	}
	e := r.waitEvents(21)[20]
	if e.CustomerID != id || e.Change != Updated || !pgSame(t, e.Before, events[3].After) {
		t.Errorf("got %s %s before %s, want updated %s before %s", e.Change, e.CustomerID, e.Before, id, events[3].After)
	}
}

// Each round of the pipeline is timed, step by step, in
// crm_bridge_poller_step_seconds and in a debug line, so that an operator
// can see where a slow poll spends its time.
func TestPipelineStepsTimed(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.sim.Seed(5)
	var logs syncbuf.Buffer
	cfg := r.cfg
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in := r.start(cfg, nil, nil)
	in.polls(t, 1)
	id := r.sim.Customers()[1].ID
	if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.LastName = ptr("Timed") }); err != nil {
		t.Fatal(err)
	}
	r.waitEvents(1)
	in.polls(t, 1)
	for _, step := range []string{"load", "events", "model", "state"} {
		var m dto.Metric
		if err := in.p.metrics.steps.WithLabelValues(step).(prometheus.Histogram).Write(&m); err != nil {
			t.Fatal(err)
		}
		if n := m.GetHistogram().GetSampleCount(); n == 0 {
			t.Errorf("step %s: no round timed", step)
		}
	}
	var line map[string]any
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"msg":"pipeline round"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line["writes"] != 1.0 || line["customers"] != 1.0 {
		t.Fatalf("last pipeline round: %v, want 1 customer and 1 write:\n%s", line, logs.String())
	}
	for _, step := range []string{"load", "events", "model", "state"} {
		if d, ok := line[step].(float64); !ok || d < 0 {
			t.Errorf("pipeline round: %s = %v, want a duration", step, line[step])
		}
	}
}
