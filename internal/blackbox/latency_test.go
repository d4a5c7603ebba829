package blackbox

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/proctest"
)

// paced calls send(i) rate times a second for d, from one goroutine: at
// each tick (every millisecond, or 1/rate when that is longer) it sends
// what is due since the start, so that a late tick is caught up. It
// returns how many it sent.
func paced(rate int, d time.Duration, send func(i int)) int {
	every := max(time.Millisecond, time.Second/time.Duration(rate))
	total := int(d.Seconds() * float64(rate))
	tick := time.NewTicker(every)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < total; {
		<-tick.C
		for due := min(total, int(time.Since(start).Seconds()*float64(rate))); i < due; i++ {
			send(i)
		}
	}
	return total
}

// percentiles returns p50 and p99 of d, in milliseconds.
func percentiles(d []time.Duration) (p50, p99 float64) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000 }
	return ms(0.50), ms(0.99)
}

// timeToResult publishes rate commands a second for d to p and returns
// each one's time from its publish to its result.
func (w *commandWorld) timeToResult(tb testing.TB, p *proctest.Proc, rate int, d time.Duration, round string) []time.Duration {
	tb.Helper()
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	stop := w.onResults(tb, round+"-", func(id string, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := sent[id]; ok {
			lat = append(lat, at.Sub(t))
			delete(sent, id)
		}
	})
	defer stop()
	n := paced(rate, d, func(i int) {
		id := fmt.Sprintf("%s-%d", round, i)
		m := w.command(id, i)
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		if _, err := w.js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
			tb.Error(err)
		}
	})
	proctest.WaitFor(tb, p, time.Minute, 10*time.Millisecond, "every result", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lat) == n
	})
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(lat)
}

// latencyScenario measures publish to result at rate commands a second,
// CRM latency 0, for d per round, of the floor and the bridge.
func latencyScenario(tb testing.TB, rate int, d time.Duration, rounds int) *table {
	w := newCommandWorld(tb, 0)
	t := &table{title: fmt.Sprintf("publish to result at %d commands/s, CRM latency 0: %v per round", rate, d)}
	p50 := t.add("p50 (ms)", false, "")
	p99 := t.add("p99 (ms)", false, "≤ 5 ms")
	for r := range rounds {
		for _, kind := range []string{"floor", "bridge"} {
			p := w.start(tb, kind)
			wait := profile(tb, p, fmt.Sprint(r))
			a, b := percentiles(w.timeToResult(tb, p, rate, d, fmt.Sprintf("%s%d", kind, r)))
			wait()
			p.Stop(tb, time.Minute)
			w.purge(tb)
			p50.put(kind, a)
			p99.put(kind, b)
		}
	}
	return t
}
