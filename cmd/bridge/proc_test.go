package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/commands/commandtest"
	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// bridgeProc is the bridge binary running `bridge run` as a child
// process; its log is its stderr.
type bridgeProc struct{ *proctest.Proc }

// startBridge runs `bridge run` as a child process with env (BRIDGE_...).
func startBridge(t *testing.T, env map[string]string) *bridgeProc {
	t.Helper()
	bin := proctest.Build(t, proctest.BridgePkg)
	return &bridgeProc{proctest.Start(t, "bridge", bin, []string{"run"}, proctest.Options{Env: proctest.Vars(env)})}
}

func (p *bridgeProc) logs() string { return p.Stderr.String() }

// world is what bridge processes run against: JetStream and the simulator.
type world struct {
	t    *testing.T
	srv  *embedded.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	sim  *crmsim.Simulator
	subj streams.Subjects
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := natstest.Server(t)
	nc, js := natstest.Connect(t, srv)
	sim := simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o", RandSeed: 3})
	return &world{t: t, srv: srv, nc: nc, js: js, sim: sim, subj: streams.Subjects{Prefix: "crm"}}
}

func (w *world) env() map[string]string {
	return map[string]string{
		"BRIDGE_NATS_URL":    w.srv.ClientURL(),
		"BRIDGE_CRM_URL":     w.sim.URL(),
		"BRIDGE_CRM_API_KEY": "k",
		"BRIDGE_CRM_ORG_ID":  "o",
		"BRIDGE_CRM_RATE":    "0",
		"BRIDGE_HTTP_ADDR":   "127.0.0.1:0",
		"BRIDGE_CONCURRENCY": "8",
		"BRIDGE_LOG_FORMAT":  "json",
	}
}

// seed makes n customers in the simulator and returns their ids.
func (w *world) seed(n int) []string {
	w.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		c, err := w.sim.CreateCustomer(crm.CreateParams{FirstName: "Seed", Phone: fmt.Sprintf("777%07d", i)})
		if err != nil {
			w.t.Fatal(err)
		}
		ids[i] = c.ID
	}
	return ids
}

// waitConsumers waits until a bridge has made the streams and consumers.
func (w *world) waitConsumers() {
	w.t.Helper()
	eventually.True(w.t, 30*time.Second, "the bridge made no consumers", func() bool {
		_, err := w.js.Consumer(context.Background(), streams.Commands, streams.CreateConsumer)
		return err == nil
	})
}

// publishAsync publishes without waiting for each ack; wait waits for all.
func (w *world) publishAsync(subject, id string, body []byte) {
	w.t.Helper()
	m := nats.NewMsg(subject)
	m.Header.Set(nats.MsgIdHdr, id)
	m.Data = body
	if _, err := w.js.PublishMsgAsync(m); err != nil {
		w.t.Fatalf("publish %s: %v", subject, err)
	}
}

func (w *world) waitPublished() {
	w.t.Helper()
	select {
	case <-w.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		w.t.Fatal("publishes not acknowledged")
	}
}

// resultCount returns how many results CRM_EVENTS holds.
func (w *world) resultCount() int { return natstest.Count(w.js, streams.Events, w.subj.Result()) }

// results reads every stored result, each checked against
// result.schema.json; it fails the test on a command with two.
func (w *world) results() map[string]commands.Result {
	w.t.Helper()
	return commandtest.Results(w.t, w.js, w.subj)
}

// Done when 5 (commands): the bridge killed with SIGKILL in the middle of
// 1,000 commands and restarted: every command has exactly one result, none
// applied twice.
func TestSIGKILLMidwayAndRestart(t *testing.T) {
	w := newWorld(t)
	// 20 ms a call, 8 at a time: 1,000 commands take at least 2.5 s, so
	// the kill comes in the middle.
	if err := w.sim.SetFaults(crmsim.Faults{Latency: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	first := startBridge(t, w.env())
	w.waitConsumers()
	const creates, updates = 600, 400
	// Updates of customers that exist before the commands come.
	seeded := w.seed(40)
	for i := range creates {
		w.publishAsync(w.subj.Create(), fmt.Sprintf("c-%d", i), fmt.Appendf(nil, `{"firstName":"K%d","phone":"555%07d"}`, i, i))
		if i < updates {
			w.publishAsync(w.subj.Update(seeded[i%len(seeded)]), fmt.Sprintf("u-%d", i), fmt.Appendf(nil, `{"number":"%d"}`, i))
		}
	}
	w.waitPublished()
	eventually.True(t, time.Minute, "no progress before the kill", func() bool { return w.resultCount() >= 200 })
	first.Kill()
	killedAt := w.resultCount()
	if killedAt >= creates+updates {
		t.Fatalf("all %d commands were done before the kill; nothing was shown", killedAt)
	}
	startBridge(t, w.env())
	eventually.True(t, 3*time.Minute, "not every command got a result", func() bool { return w.resultCount() >= creates+updates })
	results := w.results()
	if len(results) != creates+updates {
		t.Errorf("got %d results, want %d", len(results), creates+updates)
	}
	for id, r := range results {
		if r.Status != commands.StatusApplied {
			t.Errorf("%s: got %+v, want applied", id, r)
		}
	}
	made := 0
	for _, c := range w.sim.Changes() {
		if c.Op == crmsim.ChangeCreate && c.Via == "api" {
			made++
		}
	}
	if made != creates {
		t.Errorf("the CRM made %d customers for %d creates", made, creates)
	}
	t.Logf("killed after %d of %d results", killedAt, creates+updates)
}

// Done when 4: 300 interleaved updates to 10 customers under faults land
// in publish order per customer, as the simulator's own log shows, also
// with two bridge processes and with one of them killed midway.
func TestPerCustomerOrder(t *testing.T) {
	tests := []struct {
		name  string
		procs int
		kill  bool
	}{
		{"one process", 1, false},
		{"two processes", 2, false},
		{"two processes, one killed midway", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if err := w.sim.SetFaults(crmsim.Faults{Seed: 11, ErrorRate: 0.2, RateLimitRate: 0.1, RetryAfter: time.Second}); err != nil {
				t.Fatal(err)
			}
			customers := w.seed(10)
			var procs []*bridgeProc
			for range tt.procs {
				procs = append(procs, startBridge(t, w.env()))
			}
			w.waitConsumers()
			const rounds = 30
			for k := range rounds {
				for i, id := range customers {
					w.publishAsync(w.subj.Update(id), fmt.Sprintf("u-%d-%d", i, k), fmt.Appendf(nil, `{"number":"%d"}`, k))
				}
			}
			w.waitPublished()
			if tt.kill {
				eventually.True(t, time.Minute, "no progress before the kill", func() bool { return w.resultCount() >= 60 })
				procs[0].Kill()
				if n := w.resultCount(); n >= rounds*len(customers) {
					t.Fatalf("all %d updates were done before the kill; nothing was shown", n)
				}
			}
			eventually.True(t, 3*time.Minute, "not every update got a result", func() bool { return w.resultCount() >= rounds*len(customers) })
			for id, r := range w.results() {
				if r.Status != commands.StatusApplied {
					t.Errorf("%s: got %+v, want applied", id, r)
				}
			}
			seen := map[string][]int{}
			for _, c := range w.sim.Changes() {
				if c.Op != crmsim.ChangeUpdate {
					continue
				}
				var p struct {
					Number string `json:"number"`
				}
				if err := json.Unmarshal(c.Params, &p); err != nil {
					t.Fatal(err)
				}
				var k int
				fmt.Sscan(p.Number, &k)
				seen[c.CustomerID] = append(seen[c.CustomerID], k)
			}
			for _, id := range customers {
				got := seen[id]
				if len(got) != rounds {
					t.Errorf("customer %s: the CRM applied %d updates, want %d: %v", id, len(got), rounds, got)
					continue
				}
				for k, n := range got {
					if n != k {
						t.Errorf("customer %s: updates applied in the order %v, want 0..%d", id, got, rounds-1)
						break
					}
				}
			}
		})
	}
}
