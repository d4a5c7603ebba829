package blackbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// commandCustomers is the simulator's size in the command scenarios; each
// command updates one of them, drawn at random.
const commandCustomers = 2000

// commandWorld is a nats-server with the bridge's streams and a simulator
// of commandCustomers, shared by the rounds of one scenario.
type commandWorld struct {
	nats            *proctest.Proc
	natsURL, crmURL string
	nc              *nats.Conn
	js              jetstream.JetStream
	ids             []string
	subj            streams.Subjects
	rng             *rand.Rand
}

func newCommandWorld(tb testing.TB, latency time.Duration) *commandWorld {
	tb.Helper()
	w := &commandWorld{subj: streams.Subjects{Prefix: "crm"}, rng: rand.New(rand.NewPCG(1, 2))}
	w.nats, w.natsURL = startNATS(tb)
	_, w.crmURL = startSim(tb, commandCustomers, latency)
	w.nc, w.js = connect(tb, w.natsURL)
	natstest.EnsureStreams(tb, w.js)
	w.ids = customerIDs(tb, w.crmURL)
	return w
}

// start starts the floor's commands job or the bridge (kind "floor" or
// "bridge") against the world, ready for commands.
func (w *commandWorld) start(tb testing.TB, kind string) *proctest.Proc {
	tb.Helper()
	if kind == "floor" {
		return startFloor(tb, "commands", w.natsURL, w.crmURL)
	}
	p := startBridge(tb, w.natsURL, w.crmURL, true, pprofEnv()...)
	settled(tb, p)
	return p
}

// command is an update of a random customer with Nats-Msg-Id id.
func (w *commandWorld) command(id string, k int) *nats.Msg {
	m := nats.NewMsg(w.subj.Update(w.ids[w.rng.IntN(len(w.ids))]))
	m.Header.Set(nats.MsgIdHdr, id)
	m.Data = fmt.Appendf(nil, `{"number":"%d"}`, k)
	return m
}

// onResults calls f with the Command-Id of each result whose id starts
// with prefix, until the returned stop.
func (w *commandWorld) onResults(tb testing.TB, prefix string, f func(id string, at time.Time)) (stop func()) {
	tb.Helper()
	sub, err := w.nc.Subscribe(w.subj.Result(), func(m *nats.Msg) {
		at := time.Now()
		if id := m.Header.Get("Command-Id"); strings.HasPrefix(id, prefix) {
			f(id, at)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		tb.Fatal(err)
	}
	return func() { _ = sub.Unsubscribe() }
}

// backlog publishes n commands and times p from the first publish to the
// last result: commands per second, and p's CPU time per command in µs.
func (w *commandWorld) backlog(tb testing.TB, p *proctest.Proc, n int, round string) (rate, cpuMicros float64) {
	tb.Helper()
	var got atomic.Int64
	all := make(chan struct{})
	stop := w.onResults(tb, round+"-", func(string, time.Time) {
		if got.Add(1) == int64(n) {
			close(all)
		}
	})
	defer stop()
	cpu0, t0 := p.CPU(tb), time.Now()
	for i := range n {
		if _, err := w.js.PublishMsgAsync(w.command(fmt.Sprintf("%s-%d", round, i), i), jetstream.WithStallWait(time.Minute)); err != nil {
			tb.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-p.Done():
		tb.Fatalf("%s exited during the round", p.Name)
	case <-time.After(5 * time.Minute):
		tb.Fatalf("%s: %d of %d results after 5 minutes", p.Name, got.Load(), n)
	}
	elapsed, cpu1 := time.Since(t0), p.CPU(tb)
	return float64(n) / elapsed.Seconds(), float64((cpu1 - cpu0).Microseconds()) / float64(n)
}

// purge empties CRM_COMMANDS between rounds, so that the bridge's durable
// consumers skip the floor's commands (and the floor starts at new ones).
func (w *commandWorld) purge(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := w.js.Stream(ctx, streams.Commands)
	if err == nil {
		err = s.Purge(ctx)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// commandsScenario runs rounds of n commands through the floor, then the
// bridge, each started for the round and stopped after it.
func commandsScenario(tb testing.TB, latency time.Duration, n, rounds int, target string) *table {
	w := newCommandWorld(tb, latency)
	t := &table{title: fmt.Sprintf("commands, CRM latency %v: %d updates per round, %d in flight", latencyText(latency), n, commandConcurrency)}
	thr := t.add("throughput (cmd/s)", true, target)
	cpu := t.add("CPU per command (µs)", true, map[bool]string{true: "≤ 1.3", false: ""}[latency == 0])
	rss := t.add("peak RSS (MB)", true, "")
	for r := range rounds {
		for _, kind := range []string{"floor", "bridge"} {
			p := w.start(tb, kind)
			wait := profile(tb, p, fmt.Sprint(r))
			rate, c := w.backlog(tb, p, n, fmt.Sprintf("%s%d", kind, r))
			wait()
			mb := float64(p.PeakRSS(tb)) / 1e6
			p.Stop(tb, time.Minute)
			w.purge(tb)
			thr.put(kind, rate)
			cpu.put(kind, c)
			rss.put(kind, mb)
		}
	}
	t.note("nats-server peak RSS %.0f MB", float64(w.nats.PeakRSS(tb))/1e6)
	return t
}

// latencyText is d, or "0" for none.
func latencyText(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}
