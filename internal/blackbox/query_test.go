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

// queryScenario asks the bridge's query service for random customers of
// a simulator of customers, rate requests a second for d per round, and
// reports each request's time to its reply. Once the first poll is done,
// the model holds every customer. It skips when nothing answers
// crm.customer.get: the query service is issue 12's.
func queryScenario(tb testing.TB, customers, rate int, d time.Duration, rounds int) *table {
	natsP, natsURL := startNATS(tb)
	_, crmURL := startSim(tb, customers, 0)
	nc, _ := connect(tb, natsURL)
	b := startBridge(tb, natsURL, crmURL, true)
	ids := customerIDs(tb, crmURL)
	var err error
	proctest.WaitFor(tb, b, time.Minute, 100*time.Millisecond, "crm.customer.get to answer from the model", func() bool {
		var m *nats.Msg
		m, err = nc.Request(querySubject(ids[0]), nil, 2*time.Second)
		return errors.Is(err, nats.ErrNoResponders) || (err == nil && m.Header.Get("Nats-Service-Error-Code") == "")
	})
	if errors.Is(err, nats.ErrNoResponders) {
		const why = "nothing answers crm.customer.get: the bridge has no query service yet (issue 12)"
		fmt.Fprintf(stdout, "\n== crm.customer.get: SKIPPED: %s\n", why)
		tb.Skip(why)
	}
	t := &table{title: fmt.Sprintf("crm.customer.get at %d requests/s: %d customers, %v per round", rate, customers, d)}
	p50 := t.add("p50 (ms)", false, "≤ 1 ms")
	p99 := t.add("p99 (ms)", false, "≤ 5 ms")
	cpu := t.add("CPU per request (µs)", false, "")
	for r := range rounds {
		var mu sync.Mutex
		var lat []time.Duration
		var failed int
		var wg sync.WaitGroup
		cpu0 := b.CPU(tb)
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
			tb.Errorf("round %d: %d of %d requests failed", r, failed, n)
		}
		a, b99 := percentiles(lat)
		p50.put("bridge", a)
		p99.put("bridge", b99)
		cpu.put("bridge", float64((b.CPU(tb)-cpu0).Microseconds())/float64(n))
	}
	t.note("nats-server peak RSS %.0f MB; bridge peak RSS %.0f MB", float64(natsP.PeakRSS(tb))/1e6, float64(b.PeakRSS(tb))/1e6)
	return t
}
