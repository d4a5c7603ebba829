package poller

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// A poller that becomes active after a pass that published many events
// reads their customers' states in batches, and brings up exactly those
// that are behind their last event: here a first start with initial
// events dies in its sixth page, once that page's events are stored and
// before its read model entries and state are written; the pages before
// are saved (in chunks; the fifth's were sent before the sixth's events
// were awaited, tail.go, and the crash waits for them). Then every
// customer has one created event, none twice.
func TestCatchUpAmongManyEvents(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 7})
	r.sim.Seed(60)
	cfg := r.cfg
	cfg.InitialEvents = true
	target := r.sim.Customers()[37].ID // on the sixth page
	crashed := make(chan struct{})
	gone := make(chan struct{})
	first := r.start(cfg, nil, func(p *Poller) {
		p.afterEvent = func(ev Event) error {
			if ev.CustomerID == target {
				select {
				case <-p.js.PublishAsyncComplete():
				case <-time.After(10 * time.Second):
					t.Error("the fifth page's state is not stored after 10 s")
				}
				close(crashed)
				<-gone
			}
			return nil
		}
	})
	t.Cleanup(func() { close(gone) }) // before the poller's stop: cleanups run last first
	<-crashed
	first.nc.Close()
	events := r.events()
	if len(events) != 42 {
		t.Fatalf("events before the crash: got %d, want 42 (six pages of 7)", len(events))
	}

	// What load, one customer at a time, finds behind: the reference.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := stateStore(t, r.js)
	x, _, err := st.rebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	behind := 0
	for _, ev := range events {
		e, known := x.m[x.hash(ev.CustomerID)]
		var chunk uint64
		if known {
			chunk = x.chunkSeq(e)
		}
		sv, err := st.load(ctx, ev.CustomerID, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if sv.eventSeq < ev.seq {
			behind++
		}
	}
	if behind != 7 {
		t.Fatalf("customers behind their event after the crash: got %d, want 7: the sixth page's", behind)
	}

	var logs syncbuf.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	second := r.start(cfg, nil, nil)
	second.polls(t, 2)
	var loaded struct {
		CaughtUp int `json:"caught_up"`
	}
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"msg":"poller state loaded"`) {
			if err := json.Unmarshal([]byte(l), &loaded); err != nil {
				t.Fatal(err)
			}
		}
	}
	if loaded.CaughtUp != behind {
		t.Errorf("caught up: got %d customers, want %d:\n%s", loaded.CaughtUp, behind, logs.String())
	}
	events = r.waitEvents(60)
	seen := map[string]int{}
	for _, ev := range events {
		seen[ev.CustomerID]++
		if ev.Change != Created {
			t.Errorf("%s: %s event, want created only", ev.CustomerID, ev.Change)
		}
	}
	if len(events) != 60 || len(seen) != 60 {
		t.Errorf("got %d events for %d customers, want one each for 60", len(events), len(seen))
	}
	r.waitModel()
}
