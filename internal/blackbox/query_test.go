package blackbox

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// querySubject is the model's get (issue 12; docs/contract.md, "Queries").
func querySubject(id string) string { return "crm.customer.get." + streams.EncodeToken(id) }

// queryScenario asks for random customers of a simulator of customers,
// rate requests a second for d per round, and reports each request's time
// to its reply, of the floor (floor get: a direct get of the customer's
// model entry a request) and of the bridge's query service, alternating,
// each a process started for its round (the bridge once its poller's
// state is loaded and its query index built, so that its round is its
// answers alone). A first start of the bridge fills the model. It skips when
// nothing answers crm.customer.get: the query service is issue 12's.
func queryScenario(tb testing.TB, customers, rate int, d time.Duration, rounds int) *table {
	natsP, natsURL := startNATS(tb)
	_, crmURL := startSim(tb, customers, 0)
	nc, _ := connect(tb, natsURL)
	ids := customerIDs(tb, crmURL)
	first := startBridge(tb, natsURL, crmURL, true)
	if err := answering(tb, first, nc, ids[0]); errors.Is(err, nats.ErrNoResponders) {
		const why = "nothing answers crm.customer.get: the bridge has no query service yet (issue 12)"
		fmt.Fprintf(stdout, "\n== crm.customer.get: SKIPPED: %s\n", why)
		tb.Skip(why)
	}
	settled(tb, first)
	if err := first.Stop(tb, time.Minute); err != nil {
		tb.Fatalf("the bridge's first start: %v", err)
	}
	t := &table{title: fmt.Sprintf("crm.customer.get at %d requests/s: %d customers, %v per round", rate, customers, d)}
	p50 := t.add("p50 (ms)", false, "≤ 1 ms")
	p99 := t.add("p99 (ms)", false, "≤ 5 ms")
	cpu := t.add("CPU per request (µs)", false, "")
	var bridgeRSS float64
	for r := range rounds {
		for _, kind := range []string{"floor", "bridge"} {
			var p *proctest.Proc
			if kind == "floor" {
				p = startFloor(tb, "get", natsURL, crmURL)
			} else {
				p = startBridge(tb, natsURL, crmURL, true)
				proctest.WaitFor(tb, p, time.Minute, 20*time.Millisecond, "the poller's state and the query index", func() bool {
					return len(logLines(p, "poller state loaded")) > 0 && len(logLines(p, "read model indexed")) > 0
				})
			}
			if err := answering(tb, p, nc, ids[0]); err != nil {
				tb.Fatalf("%s: crm.customer.get: %v", kind, err)
			}
			a, b99, perReq := queryRound(tb, p, nc, ids, r, rate, d)
			if kind == "bridge" {
				bridgeRSS = float64(p.PeakRSS(tb)) / 1e6
			}
			if err := p.Stop(tb, time.Minute); err != nil {
				tb.Fatalf("%s: %v", kind, err)
			}
			p50.put(kind, a)
			p99.put(kind, b99)
			cpu.put(kind, perReq)
		}
	}
	t.note("floor: `floor get`, a direct get of the customer's read model entry a request, answered in the bridge's reply; each process started for its round")
	t.note("nats-server peak RSS %.0f MB; bridge peak RSS %.0f MB", float64(natsP.PeakRSS(tb))/1e6, bridgeRSS)
	return t
}

// answering waits until crm.customer.get answers from the model through
// p, and returns the last error: nats.ErrNoResponders at once when
// nothing answers it.
func answering(tb testing.TB, p *proctest.Proc, nc *nats.Conn, id string) error {
	tb.Helper()
	var err error
	proctest.WaitFor(tb, p, time.Minute, 100*time.Millisecond, "crm.customer.get to answer from the model", func() bool {
		var m *nats.Msg
		m, err = nc.Request(querySubject(id), nil, 2*time.Second)
		if err == nil && m.Header.Get("Nats-Service-Error-Code") != "" {
			err = fmt.Errorf("error %s", m.Header.Get("Nats-Service-Error-Code"))
		}
		return err == nil || errors.Is(err, nats.ErrNoResponders)
	})
	return err
}

// queryRound asks p for a customer of ids rate times a second for d,
// round r choosing them, and returns p50 and p99 of the times to the
// replies in milliseconds, and p's CPU per request in µs.
func queryRound(tb testing.TB, p *proctest.Proc, nc *nats.Conn, ids []string, r, rate int, d time.Duration) (p50, p99, cpuMicros float64) {
	tb.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var failed int
	var wg sync.WaitGroup
	cpu0 := p.CPU(tb)
	n := paced(rate, d, func(i int) {
		wg.Go(func() {
			start := time.Now()
			m, err := nc.Request(querySubject(ids[(r*7919+i*104729)%len(ids)]), nil, 10*time.Second)
			took := time.Since(start)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || m.Header.Get("Nats-Service-Error-Code") != "" {
				failed++
				return
			}
			lat = append(lat, took)
		})
	})
	wg.Wait()
	if failed > 0 {
		tb.Errorf("%s round %d: %d of %d requests failed", p.Name, r, failed, n)
	}
	p50, p99 = percentiles(lat)
	return p50, p99, float64((p.CPU(tb) - cpu0).Microseconds()) / float64(n)
}
