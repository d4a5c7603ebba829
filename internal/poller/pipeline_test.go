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
	"github.com/gormic/crm-bridge/internal/model"
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
	st, x := rebuilt(ctx, t, r)
	var cs []change
	for _, c := range append(customers, crm.Customer{ID: "never-seen"}) {
		h := x.hash(c.ID)
		e, known := x.m[h]
		cs = append(cs, change{id: c.ID, h: h, known: known || c.ID == customers[0].ID, chunk: x.chunkAt(e)})
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
		if c.chunk.seq != 0 {
			chunked++
		}
		want := saved{}
		if c.known {
			if want, err = st.load(ctx, c.id, c.chunk.seq); err != nil {
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

// rebuilt returns the store of r's state and the index rebuilt from it,
// as a poller that becomes active reads them.
func rebuilt(ctx context.Context, t *testing.T, r *rig) (*store, *index) {
	t.Helper()
	st := stateStore(t, r.js)
	x, _, err := st.rebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st, x
}

// loadMany reads a customer whose record is in a chunk from the read
// model, when its entry is the chunk's record (its whole digest, which
// the index keeps, says so), with the last event's sequence the index
// keeps, or from the chunk, whichever answers first; from the chunk when
// its entry differs or is missing, or the model cannot be read. Without
// its chunk, the model gives what the chunk held; with its model entry
// changed or deleted, the chunk does.
func TestLoadManyChunkedFromModel(t *testing.T) {
	for _, initial := range []bool{false, true} {
		t.Run(fmt.Sprintf("initial-events=%v", initial), func(t *testing.T) {
			r := newRig(t, crmsim.Options{PageSize: 7})
			r.sim.Seed(30)
			cfg := r.cfg
			cfg.InitialEvents = initial
			in := r.start(cfg, nil, nil)
			in.polls(t, 1)
			in.stop(t)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, x := rebuilt(ctx, t, r)
			var cs []change
			for _, c := range r.sim.Customers() {
				h := x.hash(c.ID)
				cs = append(cs, change{id: c.ID, h: h, known: true, chunk: x.chunkAt(x.m[h])})
				if cs[len(cs)-1].chunk.seq == 0 {
					t.Fatalf("%s: not in a chunk after a first start", c.ID)
				}
			}
			var checkStore func(what string, st *store)
			want := make([]saved, len(cs))
			for i, c := range cs {
				var err error
				if want[i], err = st.load(ctx, c.id, c.chunk.seq); err != nil {
					t.Fatal(err)
				}
				if initial && want[i].eventSeq == 0 {
					t.Fatalf("%s: no event sequence in its chunk after a first start with events", c.id)
				}
			}
			check := func(what string) {
				t.Helper()
				checkStore(what, st)
			}
			checkStore = func(what string, st *store) {
				t.Helper()
				svs, loaded, err := st.loadMany(ctx, cs, 4)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				for i, c := range cs {
					if got := svs[i]; !loaded[i] || string(got.record) != string(want[i].record) ||
						got.digest != want[i].digest || got.eventSeq != want[i].eventSeq || got.rev != 0 {
						t.Errorf("%s: %s: got %v %+v, want %+v", what, c.id, loaded[i], got, want[i])
					}
				}
			}
			check("model and chunks")

			// The model's reads failing (their connection closed): every
			// record from its chunk.
			closedNC, closedJS := natstest.Connect(t, r.srv)
			closedNC.Close()
			noModel := *st
			noModel.reads = closedJS
			checkStore("the model unread", &noModel)

			// The model's entry changed or deleted: the chunk's record.
			kv, err := r.js.KeyValue(ctx, model.Bucket)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kv.Put(ctx, model.Key(cs[0].id), []byte(`{"id":"`+cs[0].id+`","firstName":"Ahead"}`)); err != nil {
				t.Fatal(err)
			}
			if err := kv.Delete(ctx, model.Key(cs[1].id)); err != nil {
				t.Fatal(err)
			}
			check("two entries different")

			// Every other chunk gone: their customers from the model alone.
			deleted := map[uint64]bool{}
			for _, c := range cs {
				if seq := c.chunk.seq; seq != cs[0].chunk.seq && seq != cs[1].chunk.seq && !deleted[seq] {
					if err := st.stream.DeleteMsg(ctx, seq); err != nil {
						t.Fatal(err)
					}
					deleted[seq] = true
				}
			}
			if len(deleted) == 0 {
				t.Fatal("every customer in the first two customers' chunks")
			}
			// Their reads go over the store's reads connection.
			readsNC, readsJS := natstest.Connect(t, r.srv)
			overReads := *st
			overReads.reads = readsJS
			checkStore("no chunk but the first two customers'", &overReads)
			if readsNC.Stats().InMsgs == 0 {
				t.Error("the model's entries did not come over the store's reads connection")
			}
		})
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
	chunks := natstest.Messages(t, r.js, StateStream, stateSubjects("crm")+"b.>")
	if len(chunks) == 0 {
		t.Error("got no chunk after the first start")
	}
	for _, m := range chunks {
		if v := m.Data()[0]; v != chunkS2 {
			t.Errorf("a first start's chunk: version %d, want %d (former versions read it)", v, chunkS2)
		}
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

// A poll's batched reads of its changed customers' saved records go over
// Config.Reads, a connection of their own in the bridge, so that the
// server does not answer them behind the poll's writes (for the read
// model's entries of customers in chunks: TestLoadManyChunkedFromModel).
func TestBatchedReadsOverReads(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 7})
	r.sim.Seed(20)
	readsNC, reads := natstest.Connect(t, r.srv)
	cfg := r.cfg
	cfg.Reads = reads
	in := r.start(cfg, nil, nil)
	in.polls(t, 1)
	id := r.sim.Customers()[3].ID
	for round := range 2 { // its first change saves its own entry, the second reads it
		before := readsNC.Stats().InMsgs
		if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.LastName = ptr(fmt.Sprint("Reads", round)) }); err != nil {
			t.Fatal(err)
		}
		e := r.waitEvents(round + 1)[round]
		if e.CustomerID != id || e.Change != Updated {
			t.Fatalf("round %d: got %s %s, want updated %s", round, e.Change, e.CustomerID, id)
		}
		if got := readsNC.Stats().InMsgs; round == 1 && got == before {
			t.Error("the reads connection took in no message: the saved entry was read elsewhere")
		}
	}
}
