package commands

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/streams"
)

// A command whose customer has no next command waiting is acknowledged
// without asking for confirmation (a plain ack, no reply subject); the
// customer's next command, when it comes, first asks for it: A's ack is
// sent again as a request, before B's result.
func TestNextCommandConfirmsThePlainAck(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.sim.Seed(1)
	id := r.sim.Customers()[0].ID
	var mu sync.Mutex
	var seen []string // "ack <subject> <reply>" and "result <command id>", in arrival order
	record := func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(m.Subject, "$JS.ACK.") {
			seen = append(seen, "ack "+m.Subject+" "+m.Reply)
		} else {
			seen = append(seen, "result "+m.Header.Get(HeaderCommandID))
		}
	}
	for _, subj := range []string{"$JS.ACK." + streams.Commands + ".>", r.subj.Result()} {
		sub, err := r.nc.Subscribe(subj, record)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	r.startProcessor(r.cfg)

	lines := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	r.publish(r.subj.Update(id), "a", []byte(`{"number":"1"}`))
	var ackA string
	eventually.True(t, 10*time.Second, "a's result and its ack", func() bool {
		for _, l := range lines() {
			if f := strings.Fields(l); f[0] == "ack" {
				ackA = f[1]
			}
		}
		return ackA != ""
	})
	for _, l := range lines() {
		if f := strings.Fields(l); f[0] == "ack" && len(f) > 2 {
			t.Fatalf("a's ack %q asked for a confirmation; want a plain ack (nothing of its customer waited)", l)
		}
	}
	r.publish(r.subj.Update(id), "b", []byte(`{"number":"2"}`))
	eventually.True(t, 10*time.Second, "b's result", func() bool {
		return slices.Contains(lines(), "result b")
	})
	confirm, resultB := -1, -1
	for i, l := range lines() {
		f := strings.Fields(l)
		switch {
		case f[0] == "ack" && f[1] == ackA && len(f) > 2 && confirm < 0:
			confirm = i
		case l == "result b":
			resultB = i
		}
	}
	if confirm < 0 || confirm > resultB {
		t.Errorf("got %q, want a's ack asked again for confirmation (with a reply subject) before b's result", lines())
	}
	if c, _ := r.sim.Customer(id); c.Number != "2" {
		t.Errorf("got number %q, want b's %q", c.Number, "2")
	}
}
