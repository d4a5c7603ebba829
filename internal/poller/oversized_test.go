package poller

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// bigNote returns an internalNote of about n bytes that does not compress.
func bigNote(t *testing.T, n int) *string {
	t.Helper()
	b := make([]byte, n*3/4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

// TestOversizedRecordNeverStalls is issue 11's part 2: with a server whose
// max_payload is 64 KiB, a customer whose record grows past it (and one
// that was past it before the first start) gets truncated events, once
// each, with a stable ce-id; the other customers' changes after it are all
// published; and once the record is small again its events are whole.
func TestOversizedRecordNeverStalls(t *testing.T) {
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir(), MaxPayload: 64 << 10})
	r := newRigOn(t, crmsim.Options{PageSize: 7}, srv)
	r.sim.Seed(40)
	seeded := r.sim.Customers()
	early, grown := seeded[0].ID, seeded[1].ID
	update := func(id string, edit func(c *crm.Customer)) {
		t.Helper()
		if _, err := r.sim.UpdateCustomer(id, edit); err != nil {
			t.Fatal(err)
		}
	}
	update(early, func(c *crm.Customer) { c.InternalNote = bigNote(t, 100<<10) })

	// The first truncated event "crashes" the pass once, after it is
	// published and before it is saved: the next pass must find it by its
	// ce-id and publish nothing more.
	var crashed atomic.Bool
	in := r.start(r.cfg, nil, func(p *Poller) {
		p.afterEvent = func(ev Event) error {
			if ev.Truncated && crashed.CompareAndSwap(false, true) {
				return errors.New("crash after publish")
			}
			return nil
		}
	})
	in.polls(t, 1)

	update(grown, func(c *crm.Customer) { c.InternalNote = bigNote(t, 100<<10) })
	others := seeded[2:]
	for _, c := range others {
		update(c.ID, func(c *crm.Customer) { c.LastName = ptr("Later") })
	}
	events := r.waitEvents(1 + len(others))
	in.polls(t, 2)

	update(grown, func(c *crm.Customer) { c.FirstName = "Next" })
	update(early, func(c *crm.Customer) { c.FirstName = "Next" })
	r.waitEvents(len(events) + 2)
	update(grown, func(c *crm.Customer) { c.InternalNote = ptr("short again") })
	r.waitEvents(len(events) + 3)
	update(grown, func(c *crm.Customer) { c.FirstName = "Whole" })
	r.waitEvents(len(events) + 4)
	in.polls(t, 2)

	events = r.events()
	if got, want := len(events), 1+len(others)+4; got != want {
		t.Fatalf("got %d events, want %d", got, want)
	}
	if !crashed.Load() {
		t.Fatal("no truncated event was published")
	}
	for _, c := range others {
		if n := countFor(events, c.ID); n != 1 {
			t.Errorf("customer %s: got %d events, want 1", c.ID, n)
		}
	}
	type want struct {
		fields    []string
		truncated bool
	}
	got := map[string][]want{}
	for _, e := range events {
		if e.CustomerID == grown || e.CustomerID == early {
			got[e.CustomerID] = append(got[e.CustomerID], want{e.Fields, e.Truncated})
		}
		if e.Truncated && (e.Before != nil || e.After != nil) {
			t.Errorf("truncated event of %s has before or after", e.CustomerID)
		}
		if e.header.Get(HeaderID) != e.ID() && !e.Truncated {
			t.Errorf("event of %s: ce-id %s, want %s", e.CustomerID, e.header.Get(HeaderID), e.ID())
		}
	}
	wantEvents := map[string][]want{
		grown: {
			{[]string{"internalNote"}, true}, // grew past max_payload
			{[]string{"firstName"}, true},    // its before is too large
			{[]string{"internalNote"}, true}, // shrank: its before still is
			{[]string{"firstName"}, false},   // whole again
		},
		early: {{[]string{"firstName"}, true}}, // too large before the first start
	}
	for id, w := range wantEvents {
		if !slices.EqualFunc(got[id], w, func(a, b want) bool {
			return a.truncated == b.truncated && slices.Equal(a.fields, b.fields)
		}) {
			t.Errorf("events of %s: got %v, want %v", id, got[id], w)
		}
	}
	last := events[len(events)-1]
	if note := object(t, last.Before)["internalNote"]; note != "short again" {
		t.Errorf("last event's before.internalNote: got %v, want %q", note, "short again")
	}
	if n := counterValue(t, in.p.metrics.truncated); n != 4 {
		t.Errorf("truncated events counted: got %v, want 4", n)
	}
	if sv := r.saved(early); !sv.oversized || sv.eventSeq == 0 {
		t.Errorf("state of %s: got oversized %v, event seq %d; want a sketch after its event", early, sv.oversized, sv.eventSeq)
	}
	// The read model holds early's stub, the others' records, also after
	// the crash between the truncated event and the model write.
	r.waitModel()
}

func countFor(events []stored, id string) int {
	n := 0
	for _, e := range events {
		if e.CustomerID == id {
			n++
		}
	}
	return n
}

// saved returns a customer's saved state.
func (r *rig) saved(id string) saved {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sv, err := stateStore(r.t, r.js).load(ctx, id, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	return sv
}

// TestTruncatedEventID: truncating an event changes neither its ID nor
// its fields, and drops before and after from its JSON.
func TestTruncatedEventID(t *testing.T) {
	before := json.RawMessage(`{"id":"c1","firstName":"A","updatedAt":"2026-01-01T00:00:00Z"}`)
	after := json.RawMessage(`{"id":"c1","firstName":"B","updatedAt":"2026-01-01T00:00:01Z"}`)
	ev, ok, err := NewEvent("c1", before, after, time.Now())
	if err != nil || !ok {
		t.Fatalf("NewEvent: got %v, %v; want an event", ok, err)
	}
	tr := ev
	tr.Truncated = true
	if tr.ID() != ev.ID() {
		t.Errorf("truncated ID: got %s, want %s", tr.ID(), ev.ID())
	}
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	_, hasBefore := m["before"]
	_, hasAfter := m["after"]
	if hasBefore || hasAfter || m["truncated"] != true || len(m["fields"].([]any)) != 1 {
		t.Errorf("truncated JSON: got %s, want fields, truncated and no before or after", b)
	}
}

// counterValue returns a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestSketchDiff: the fields a sketch finds changed are Diff's.
func TestSketchDiff(t *testing.T) {
	tests := []struct {
		name, before, after string
	}{
		{"one field", `{"a":"x","b":1}`, `{"a":"y","b":1}`},
		{"added and removed", `{"a":"x","b":1}`, `{"b":1,"c":[1,2]}`},
		{"null is absent", `{"a":null,"b":{"k":1}}`, `{"b":{"k":1.0}}`},
		{"ignored fields", `{"a":1,"updatedAt":"t1","updatedBy":"u"}`, `{"a":1,"updatedAt":"t2","updatedVia":"v"}`},
		{"key order and spelling", `{"a":{"x":1,"y":"\u0041"},"b":2}`, `{"b":2,"a":{"y":"A","x":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := newSketch(json.RawMessage(tt.before), true)
			if err != nil {
				t.Fatal(err)
			}
			var s sketch
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			got, err := s.diff(json.RawMessage(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			want, err := Diff(json.RawMessage(tt.before), json.RawMessage(tt.after))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}
