package blackbox

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/proctest"
)

// bulkRound is one round of the bulk scenario, of the floor or the bridge.
type bulkRound struct {
	seconds, cpuMicros, rssMB float64
	// natsMicros is the nats-server's CPU per event over the same span
	// as cpuMicros: the writes and reads each event costs it.
	natsMicros float64
}

// bulkScenario times a poll that publishes an event per customer it finds
// changed, after a bulk change (issue 13: "a bulk change of 100,000"):
// over customers, after a silent first start of the bridge, each round
// changes the first name of the same bulk customers to a new value through
// the CRM's API, then the floor (bulkFloor) or the bridge (bulkBridge)
// publishes their events; floor and bridge alternate.
func bulkScenario(tb testing.TB, customers, bulk, rounds int) []*table {
	tb.Helper()
	if bulk > customers {
		tb.Fatalf("BENCH_BULK=%d is more than BENCH_CUSTOMERS=%d", bulk, customers)
	}
	_, crmURL := startSim(tb, customers, 0)
	// The bridge's store, kept from its first start through its rounds.
	natsProc, natsURL := startNATS(tb)
	_, js := connect(tb, natsURL)
	first := startBridge(tb, natsURL, crmURL, false, "BRIDGE_POLL_INTERVAL=1h")
	settled(tb, first)
	if err := first.Stop(tb, time.Minute); err != nil {
		tb.Fatalf("the bridge's first start: %v", err)
	}
	last := time.Now()
	ids := customerIDs(tb, crmURL)
	pick := pickIDs(ids, rand.New(rand.NewPCG(5, uint64(customers))).Perm(len(ids))[:bulk])
	client := crmClient(tb, crmURL)
	t := &table{title: fmt.Sprintf("a bulk change: a poll finding %d customers changed among %d, pages of %d", bulk, customers, benchPageSize)}
	sec := t.add("poll's start to the last event stored (s)", true, "≤ 1.5")
	cpu := t.add("CPU per event (µs)", true, "≤ 2")
	rss := t.add("peak RSS (MB)", true, "bridge ≤ 200 MB")
	natsCPU := t.add("nats-server CPU per event (µs)", true, "")
	for r := range rounds {
		for _, kind := range []string{"floor", "bridge"} {
			since := laterSecond(last)
			changeAll(tb, client, pick, fmt.Sprintf("%s%d", strings.ToUpper(kind[:1]), r))
			last = time.Now()
			var br bulkRound
			if kind == "floor" {
				br = bulkFloor(tb, crmURL, since, bulk)
			} else {
				var poll logLine
				var indexed string
				br, poll, indexed = bulkBridge(tb, js, natsProc, natsURL, crmURL, bulk, fmt.Sprint(r))
				t.note("round %d: the bridge's poll: %d pages, %d records, %d events, took %s; %s", r+1, poll.Pages, poll.Records, poll.Events, poll.Took, indexed)
			}
			sec.put(kind, br.seconds)
			cpu.put(kind, br.cpuMicros)
			rss.put(kind, br.rssMB)
			natsCPU.put(kind, br.natsMicros)
		}
	}
	t.note("floor: `floor events --since` the second the round's changes began, on a new nats-server store; time from just before its first export request, CPU of its whole process")
	t.note("bridge: started on the state of its first start once the changes are made, so that its first poll finds them; time from that poll's start (its poll done line less took), CPU from its poller state loaded line (the state rebuilt) to its poll done line, peak RSS of its whole run")
	return []*table{t}
}

// laterSecond waits until the clock is in a later whole second than last,
// and returns the start of the second it is in: the CRM stamps changes to
// the second, so the export since then holds the changes made from now on
// and none of those made up to last.
func laterSecond(last time.Time) time.Time {
	if d := time.Until(last.Truncate(time.Second).Add(time.Second)); d > 0 {
		<-time.After(d)
	}
	return time.Now().Truncate(time.Second)
}

// bulkFloor runs the floor's events job on the export since since, on a
// new nats-server store, and measures it until its "done" line (every
// PubAck in): from just before its first export request (its "export"
// line) to the stored time of the last event, and its CPU per event.
func bulkFloor(tb testing.TB, crmURL string, since time.Time, n int) bulkRound {
	tb.Helper()
	natsProc, natsURL, stopNATS := startRoundNATS(tb)
	defer stopNATS()
	_, js := connect(tb, natsURL)
	p := start(tb, "floor", proctest.FloorPkg, []string{"events", "--nats", natsURL, "--crm", crmURL,
		"--api-key", benchAPIKey, "--org-id", benchOrg, "--since", since.Format(time.RFC3339Nano)})
	defer p.Stop(tb, time.Minute)
	proctest.WaitFor(tb, p, 30*time.Minute, 10*time.Millisecond, "the floor to be done", func() bool {
		return strings.Contains(p.Stdout.String(), "\ndone ")
	})
	cpu, natsCPU := p.CPU(tb), natsProc.CPU(tb)
	exported, published := floorLines(tb, p.Stdout.String())
	if published != n {
		tb.Fatalf("the floor published %d events; want %d", published, n)
	}
	st, err := eventsState(js)
	if err != nil {
		tb.Fatal(err)
	}
	return bulkRound{
		seconds:    st.LastTime.Sub(exported).Seconds(),
		cpuMicros:  float64(cpu.Microseconds()) / float64(n),
		rssMB:      float64(p.PeakRSS(tb)) / 1e6,
		natsMicros: float64(natsCPU.Microseconds()) / float64(n),
	}
}

// floorLines reads the floor's "export TIME" and "done N" lines.
func floorLines(tb testing.TB, out string) (exported time.Time, done int) {
	tb.Helper()
	var err error
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "export "); ok {
			exported, err = time.Parse(time.RFC3339Nano, v)
		} else if v, ok := strings.CutPrefix(line, "done "); ok {
			done, err = strconv.Atoi(v)
		}
		if err != nil {
			tb.Fatalf("floor line %q: %v", line, err)
		}
	}
	if exported.IsZero() {
		tb.Fatal("no export line in the floor's output")
	}
	return exported, done
}

// bulkBridge starts the bridge on its state, once the changes are made,
// so that its first poll (an incremental one) finds them, and measures
// that poll: from its start (its "poll done" line's time less took) to the
// stored time of the last event, and the bridge's CPU from its "poller
// state loaded" line (the state rebuilt; the poll begins right after) to
// its "poll done" line. It returns that line too, and when the bridge's
// query index had loaded the read model (its "read model indexed" line),
// which it does from its start on, beside the poll.
//
// With BENCH_PPROF_DIR, the profiles (profile, and profileServer of the
// nats-server) are taken from the "poller state loaded" line on, named
// after round.
func bulkBridge(tb testing.TB, js jetstream.JetStream, natsProc *proctest.Proc, natsURL, crmURL string, n int, round string) (bulkRound, logLine, string) {
	tb.Helper()
	before, err := eventsState(js)
	if err != nil {
		tb.Fatal(err)
	}
	// A long interval: no second poll adds to the CPU read after the first.
	b := startBridge(tb, natsURL, crmURL, false, append(pprofEnv(), "BRIDGE_POLL_INTERVAL=1h")...)
	defer b.Stop(tb, time.Minute)
	var cpu0, natsCPU0 time.Duration
	proctest.WaitFor(tb, b, 10*time.Minute, 5*time.Millisecond, "the bridge's state to be loaded", func() bool {
		if !strings.Contains(b.Output.String(), `"msg":"poller state loaded"`) {
			return false
		}
		cpu0, natsCPU0 = b.CPU(tb), natsProc.CPU(tb)
		return true
	})
	defer profile(tb, b, round)()
	defer profileServer(tb, natsProc, round)()
	var done []logLine
	proctest.WaitFor(tb, b, 30*time.Minute, 10*time.Millisecond, "the bridge's first poll", func() bool {
		done = logLines(b, "poll done")
		return len(done) > 0
	})
	cpu, natsCPU := b.CPU(tb)-cpu0, natsProc.CPU(tb)-natsCPU0
	poll := done[0]
	if poll.Kind != "changes" || poll.Events != n {
		tb.Fatalf("the bridge's first poll: kind %s, %d events; want changes, %d", poll.Kind, poll.Events, n)
	}
	var st jetstream.StreamState
	proctest.WaitFor(tb, b, time.Minute, 20*time.Millisecond, fmt.Sprintf("%d events", n), func() bool {
		st, err = eventsState(js)
		return err == nil && st.Msgs >= before.Msgs+uint64(n)
	})
	start := pollStart(tb, poll)
	indexed := "the read model not yet indexed when the poll was done"
	if l := logLines(b, "read model indexed"); len(l) > 0 && !l[0].Time.After(poll.Time) {
		indexed = fmt.Sprintf("the read model indexed %s after the poll began", l[0].Time.Sub(start).Round(time.Millisecond))
		if d := start.Sub(l[0].Time); d >= 0 {
			indexed = fmt.Sprintf("the read model indexed %s before the poll began", d.Round(time.Millisecond))
		}
	}
	return bulkRound{
		seconds:    st.LastTime.Sub(start).Seconds(),
		cpuMicros:  float64(cpu.Microseconds()) / float64(n),
		rssMB:      float64(b.PeakRSS(tb)) / 1e6,
		natsMicros: float64(natsCPU.Microseconds()) / float64(n),
	}, poll, indexed
}
