package blackbox

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// firstStart is one round of a first start, of the floor or the bridge.
type firstStart struct {
	seconds, cpuMicros, rssMB, natsMB float64
}

// eventsScenario times a first start with initial events over customers,
// the floor's and the bridge's alternating, each on a new nats-server
// store; after the last round the bridge stays for changesScenario.
func eventsScenario(tb testing.TB, customers, changes, rounds int) []*table {
	_, crmURL := startSim(tb, customers, 0)
	t := &table{title: fmt.Sprintf("first start with initial events: %d customers, pages of %d", customers, benchPageSize)}
	sec := t.add("time to the last event stored (s)", true, "≤ 1.5")
	cpu := t.add("CPU per event (µs)", true, "≤ 2")
	rss := t.add("peak RSS (MB)", true, "bridge ≤ 200 MB")
	nrss := t.add("nats-server peak RSS (MB)", true, "")
	var tables []*table
	for r := range rounds {
		for _, kind := range []string{"floor", "bridge"} {
			last := kind == "bridge" && r == rounds-1
			fs, changed := firstStartRound(tb, kind, crmURL, customers, func(b *proctest.Proc, js jetstream.JetStream) *table {
				if !last {
					return nil
				}
				return changesScenario(tb, b, js, crmURL, customers, changes, rounds)
			})
			sec.put(kind, fs.seconds)
			cpu.put(kind, fs.cpuMicros)
			rss.put(kind, fs.rssMB)
			nrss.put(kind, fs.natsMB)
			if changed != nil {
				tables = append(tables, changed)
			}
		}
	}
	t.note("time: from the process's start to the stored time of the last event (stream info's last time)")
	return append([]*table{t}, tables...)
}

// firstStartRound starts a nats-server on a new store and the floor or the
// bridge, and measures until every customer's event is stored; then
// calls after with the process still running.
func firstStartRound(tb testing.TB, kind, crmURL string, customers int,
	after func(*proctest.Proc, jetstream.JetStream) *table) (firstStart, *table) {
	tb.Helper()
	natsP, natsURL, stopNATS := startRoundNATS(tb)
	defer stopNATS()
	_, js := connect(tb, natsURL)
	var p *proctest.Proc
	if kind == "floor" {
		p = start(tb, "floor", proctest.FloorPkg, []string{"events", "--nats", natsURL, "--crm", crmURL,
			"--api-key", benchAPIKey, "--org-id", benchOrg})
	} else {
		p = startBridge(tb, natsURL, crmURL, false, "BRIDGE_POLLER_INITIAL_EVENTS=true",
			"BRIDGE_POLL_INTERVAL=2s", "BRIDGE_LOG_LEVEL=debug")
	}
	defer p.Stop(tb, time.Minute)
	var last time.Time
	proctest.WaitFor(tb, p, 30*time.Minute, 100*time.Millisecond, fmt.Sprintf("%s: %d events stored", kind, customers), func() bool {
		st, err := eventsState(js)
		last = st.LastTime
		return err == nil && st.Msgs >= uint64(customers)
	})
	fs := firstStart{
		seconds:   last.Sub(p.Started()).Seconds(),
		cpuMicros: float64(p.CPU(tb).Microseconds()) / float64(customers),
		rssMB:     float64(p.PeakRSS(tb)) / 1e6,
		natsMB:    float64(natsP.PeakRSS(tb)) / 1e6,
	}
	return fs, after(p, js)
}

// eventsState is CRM_EVENTS's state; an error until the stream exists.
func eventsState(js jetstream.JetStream) (jetstream.StreamState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, streams.Events)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return jetstream.StreamState{}, err
	}
	if info == nil {
		return jetstream.StreamState{}, errors.New("no stream info")
	}
	return info.State, nil
}
