package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/streams"
)

// SIGKILL of the bridge at random moments, four times, under load: two
// processes, one killed at a time and started again.
func TestKilledAtRandomMoments(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 1, commanded: 60, other: 40})
	w.plan(plan{creates: 800, updates: 1200, deletes: 10, invalid: 20})
	bridges := []*bridge{w.startBridge(), w.startBridge()}
	stopChurn := w.churn()
	wait := w.publish(400)
	for k := range 4 {
		at := (k + 1) * len(w.cmds) / 6
		at += w.rng.IntN(len(w.cmds) / 10)
		w.waitResults(at, 2*time.Minute)
		i := w.rng.IntN(len(bridges))
		t.Logf("kill %s at %d results", bridges[i].name, w.results())
		bridges[i].Kill()
		bridges[i] = w.startBridge()
	}
	wait()
	stopChurn()
	w.check()
}

// The NATS server stopped for 10 s under load and started again on the
// same store: the bridges reconnect and carry on.
func TestNATSStoppedAndRestarted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 1, commanded: 50, other: 30})
	w.plan(plan{creates: 600, updates: 900, deletes: 10, invalid: 10})
	bridges := []*bridge{w.startBridge(), w.startBridge()}
	stopChurn := w.churn()
	wait := w.publish(300)
	w.waitResults(len(w.cmds)/3, 2*time.Minute)
	t.Logf("NATS stopped at %d results", w.results())
	w.nats.stop(0)
	<-time.After(10 * time.Second)
	w.nats.start(0)
	wait()
	stopChurn()
	for _, b := range bridges {
		b.waitReady(t)
	}
	w.check()
}

// A three-node cluster with three replicas of every stream and bucket; the
// node leading the command stream is killed (SIGKILL) under load and
// stays down.
func TestClusterLeaderKilled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 3, commanded: 50, other: 30})
	w.plan(plan{creates: 600, updates: 900, deletes: 10, invalid: 10})
	w.startBridge()
	w.startBridge()
	stopChurn := w.churn()
	wait := w.publish(300)
	w.waitResults(len(w.cmds)/3, 2*time.Minute)
	leader := w.nats.leader(w.js, streams.Commands)
	t.Logf("node n%d, leader of %s, killed at %d results", leader, streams.Commands, w.results())
	w.nats.kill(leader)
	wait()
	stopChurn()
	w.check()
	if now := w.nats.leader(w.js, streams.Commands); now == leader {
		t.Errorf("%s is still led by the killed node", streams.Commands)
	}
}

// Two and three bridge processes; one is killed under load and started
// again later.
func TestReplicaKilledAndRestarted(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d replicas", n), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, setup{nodes: 1, commanded: 40, other: 20})
			w.plan(plan{creates: 500, updates: 800, deletes: 8, invalid: 8})
			var bridges []*bridge
			for range n {
				bridges = append(bridges, w.startBridge())
			}
			stopChurn := w.churn()
			wait := w.publish(300)
			w.waitResults(len(w.cmds)/3, 2*time.Minute)
			victim := w.rng.IntN(n)
			t.Logf("kill %s at %d results", bridges[victim].name, w.results())
			bridges[victim].Kill()
			w.waitResults(2*len(w.cmds)/3, 3*time.Minute)
			t.Logf("start it again at %d results", w.results())
			w.startBridge()
			wait()
			stopChurn()
			w.check()
		})
	}
}

// The CRM misbehaving in every way it can, one way a subtest, under load.
// Each subtest also checks that the fault was felt: the simulator counts
// the answers it gave, and the outage shows in /readyz.
func TestCRMFaults(t *testing.T) {
	t.Parallel()
	// bursts turns a fault on and off while the workload runs.
	bursts := func(f crmsim.Faults, on, off time.Duration, n int) func(w *world, b *bridge) {
		return func(w *world, _ *bridge) {
			for range n {
				w.setFaults(f)
				<-time.After(on)
				w.setFaults(crmsim.Faults{})
				<-time.After(off)
			}
		}
	}
	tests := []struct {
		name   string
		during func(w *world, b *bridge)
		felt   int // a status the simulator must have answered, -1: none
	}{
		{"503 bursts", bursts(crmsim.Faults{ErrorRate: 0.9, ErrorStatus: 503}, time.Second, time.Second, 5), 503},
		{"500 bursts", bursts(crmsim.Faults{ErrorRate: 0.7, ErrorStatus: 500}, time.Second, time.Second, 3), 500},
		{"429 storms with Retry-After", bursts(crmsim.Faults{RateLimitRate: 0.9, RetryAfter: time.Second}, 3*time.Second, time.Second, 2), 429},
		{"2 s latency spikes beyond the 1 s timeout", bursts(crmsim.Faults{Latency: 2 * time.Second}, 3*time.Second, 2*time.Second, 2), crmsim.StatusClientClosed},
		{"answers dropped after applying", bursts(crmsim.Faults{DropAfterApplyRate: 0.3}, 8*time.Second, 0, 1), 0},
		{"30 s outage", func(w *world, b *bridge) {
			w.sim.Outage()
			end := time.After(30 * time.Second)
			eventually.True(w.t, 25*time.Second, "/readyz to say the CRM is unavailable", func() bool {
				return b.readyz() == http.StatusServiceUnavailable
			})
			<-end
			if err := w.sim.Recover(); err != nil {
				w.t.Fatal(err)
			}
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, setup{nodes: 1, commanded: 30, other: 20})
			w.plan(plan{creates: 300, updates: 500, deletes: 5, invalid: 5})
			b := w.startBridge()
			stopChurn := w.churn()
			wait := w.publish(150)
			w.waitResults(len(w.cmds)/5, 2*time.Minute)
			t.Logf("fault from %d results", w.results())
			tt.during(w, b)
			t.Logf("fault over at %d results", w.results())
			wait()
			stopChurn()
			w.check()
			if tt.felt >= 0 {
				n := int64(0)
				for k, v := range w.sim.Stats() {
					if k.Status == tt.felt {
						n += v
					}
				}
				if n == 0 {
					t.Errorf("the simulator never answered %d: the fault was not felt", tt.felt)
				}
				t.Logf("%d answers with status %d", n, tt.felt)
			}
			b.waitReady(t)
		})
	}
}

// A bridge started with the wrong API key applies nothing, fails nothing
// and says why; started again with the right key, it applies everything.
func TestWrongAPIKeyFixedByRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 1, commanded: 20, other: 10})
	w.plan(plan{creates: 200, updates: 200, deletes: 5, invalid: 5})
	env := w.env()
	env["BRIDGE_CRM_API_KEY"] = "not-the-key"
	wrong := startBridge(t, "bridge-wrong-key", env, false)
	w.publish(0)()
	eventually.True(t, time.Minute, "the bridge to say the CRM refuses its key", func() bool {
		return wrong.logValue("CRM refused the credentials: commands stop until it accepts them; nothing is dead-lettered", "err") != ""
	})
	if code := wrong.readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the wrong key: %d, want 503", code)
	}
	// The invalid commands are rejected before any CRM call; nothing else
	// has a result.
	if n, want := w.results(), 5; n > want {
		t.Errorf("%d results with the wrong key, want at most the %d invalid commands", n, want)
	}
	wrong.stop(t)
	w.startBridge()
	w.check()
}

// 10,000 commands mixed with out-of-band changes in the CRM, under
// faults at once: 5xx, 429, answers dropped after applying, latency
// jitter, and one bridge of two killed.
func TestTenThousandCommandsUnderFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 1, commanded: 300, other: 200})
	w.plan(plan{creates: 3000, updates: 6800, deletes: 100, invalid: 100})
	if len(w.cmds) != 10000 {
		t.Fatalf("%d commands", len(w.cmds))
	}
	w.setFaults(crmsim.Faults{ErrorRate: 0.05, RateLimitRate: 0.03, RetryAfter: time.Second, DropAfterApplyRate: 0.05, LatencyJitter: 20 * time.Millisecond})
	bridges := []*bridge{w.startBridge(), w.startBridge()}
	stopChurn := w.churn()
	wait := w.publish(0)
	w.waitResults(len(w.cmds)/2, 5*time.Minute)
	t.Logf("kill %s at %d results", bridges[0].name, w.results())
	bridges[0].Kill()
	w.startBridge()
	wait()
	w.waitResults(len(w.cmds), 5*time.Minute)
	stopChurn()
	w.setFaults(crmsim.Faults{})
	w.check()
}
