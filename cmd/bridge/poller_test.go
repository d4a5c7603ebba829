package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// changeEvents returns the ce-ids and customer ids of the change events
// in the stream, in order.
func (w *world) changeEvents() (ids, customers []string) {
	w.t.Helper()
	for _, m := range natstest.Messages(w.t, w.js, streams.Events, "crm.customer.changed.>") {
		var e struct {
			CustomerID string `json:"customerId"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			w.t.Fatal(err)
		}
		ids = append(ids, m.Headers().Get("ce-id"))
		customers = append(customers, e.CustomerID)
	}
	return ids, customers
}

// startPollers starts two bridge processes that poll every interval,
// waits until one of them polls and has recorded the customers, and
// returns it and the other.
func (w *world) startPollers(interval time.Duration) (active, standby *bridgeProc) {
	w.t.Helper()
	env := w.env()
	env["BRIDGE_POLL_INTERVAL"] = interval.String()
	procs := []*bridgeProc{startBridge(w.t, env), startBridge(w.t, env)}
	eventually.True(w.t, 30*time.Second, "a poller that recorded the customers", func() bool {
		for i, p := range procs {
			if p.active() && strings.Contains(p.logs(), "poller recorded the existing customers") {
				active, standby = p, procs[1-i]
				return true
			}
		}
		return false
	})
	return active, standby
}

// eventCount returns how many change events the stream holds.
func (w *world) eventCount() int {
	return natstest.Count(w.js, streams.Events, "crm.customer.changed.>")
}

// active reports whether p's log says it is the active poller now.
func (p *bridgeProc) active() bool {
	logs := p.logs()
	return strings.LastIndex(logs, `"msg":"poller active"`) > strings.LastIndex(logs, `"msg":"poller no longer active`)
}

// Done when 6 (change events): two bridge processes, one poller active and
// no duplicate events; the active one killed, the other takes over within
// two poll intervals or 10 s, whichever is longer.
func TestOnePollerAmongTwoBridges(t *testing.T) {
	w := newWorld(t)
	ids := w.seed(12)
	const interval = time.Second
	leader, standby := w.startPollers(interval)

	update := func(i int, name string) {
		t.Helper()
		if _, err := w.sim.UpdateCustomer(ids[i], func(c *crm.Customer) { c.FirstName = name }); err != nil {
			t.Fatal(err)
		}
	}
	events := w.eventCount
	for i := range 6 {
		update(i, fmt.Sprintf("Both%d", i))
	}
	eventually.True(t, 30*time.Second, "6 events", func() bool { return events() >= 6 })
	if standby.active() {
		t.Fatal("both bridges poll")
	}

	leader.Kill()
	killed := time.Now()
	update(6, "AfterKill")
	deadline := max(2*interval, 10*time.Second)
	if !eventually.Within(deadline+5*time.Second, func() bool { return events() >= 7 }) {
		t.Fatalf("no event %v after the active poller was killed", deadline+5*time.Second)
	}
	took := time.Since(killed)
	t.Logf("the standby published the change made after the kill %v after it", took.Round(time.Millisecond))
	if took > deadline {
		t.Errorf("takeover took %v, more than %v", took, deadline)
	}
	if !standby.active() {
		t.Error("the event came, but the standby does not say it is active")
	}
	for i := 7; i < 10; i++ {
		update(i, "Later")
	}
	eventually.True(t, 30*time.Second, "10 events", func() bool { return events() >= 10 })

	// Nothing twice: every change once, by one poller or the other.
	ceIDs, customers := w.changeEvents()
	if len(ceIDs) != 10 {
		t.Errorf("got %d events, want 10", len(ceIDs))
	}
	seen := map[string]bool{}
	for i, id := range ceIDs {
		if seen[id] {
			t.Errorf("ce-id %s twice (customer %s)", id, customers[i])
		}
		seen[id] = true
	}
}

// A poller that is paused (SIGSTOP) while it is active loses its lease to
// the other process, and when it wakes up it publishes nothing stale and
// nothing twice: every customer's events still form one chain.
func TestPausedPollerIsFenced(t *testing.T) {
	w := newWorld(t)
	ids := w.seed(9)
	paused, other := w.startPollers(time.Second)
	events := w.eventCount
	round := func(name string, want int) {
		t.Helper()
		for _, id := range ids {
			if _, err := w.sim.UpdateCustomer(id, func(c *crm.Customer) { c.FirstName = name }); err != nil {
				t.Fatal(err)
			}
		}
		eventually.True(t, 30*time.Second, fmt.Sprintf("%d events", want), func() bool { return events() >= want })
	}
	round("One", 9)
	if err := paused.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	round("Two", 18)
	if !other.active() {
		t.Error("events came while the active poller was paused, but the other does not say it polls")
	}
	if err := paused.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, "the woken poller to stand down", func() bool { return !paused.active() })
	round("Three", 27)

	ceIDs, customers := w.changeEvents()
	if len(ceIDs) != 27 {
		t.Errorf("got %d events, want 27", len(ceIDs))
	}
	seen := map[string]bool{}
	for i, id := range ceIDs {
		if seen[id] {
			t.Errorf("ce-id %s twice (customer %s)", id, customers[i])
		}
		seen[id] = true
	}
	w.checkChains()
}

// checkChains fails the test unless every customer's events follow one
// another: each before is the previous after.
func (w *world) checkChains() {
	w.t.Helper()
	last := map[string]string{}
	for _, m := range natstest.Messages(w.t, w.js, streams.Events, "crm.customer.changed.>") {
		var e struct {
			CustomerID string          `json:"customerId"`
			Change     string          `json:"change"`
			Before     json.RawMessage `json:"before"`
			After      json.RawMessage `json:"after"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			w.t.Fatal(err)
		}
		if prev, ok := last[e.CustomerID]; ok && canonical(w.t, e.Before) != prev {
			w.t.Errorf("%s: %s event's before %s is not the previous after %s", e.CustomerID, e.Change, e.Before, prev)
		}
		last[e.CustomerID] = canonical(w.t, e.After)
	}
}

func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
