// Package gcpace paces Go's garbage collector for a process whose heap is
// mostly large, long-lived data without pointers (the bridge's indexes:
// a million customers are some 130 MB that the collector marks in
// microseconds, since it need not look inside them, but that GOGC=100
// doubles).
//
// Go's default (GOGC=100) lets the heap grow to twice its live data
// before the next collection: the more the process holds, the more
// garbage it may also hold, and the less it holds, the more often it
// collects. A Pacer gives every heap the same headroom instead: after
// each collection it sets GOGC to 100 × headroom / live, between
// MinPercent and MaxPercent, so that a large heap grows by at most about
// headroom (never less than a tenth of its live data, so that the
// collector does not run all the time: its cost is the pointers it
// follows, not the heap's size) and a small one by about as much (a
// bridge applying commands allocates some 12 KB for each, and with a few
// MiB live Go's default collected several times a second: marking, and
// goroutines' stacks shrunk at each collection to grow again under the
// next command, cost a fifth of its CPU).
// GOMEMLIMIT, when set, still applies on top of it.
package gcpace

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// MinPercent is the lowest GOGC a Pacer sets: a heap may always grow by a
// tenth of its live data.
const MinPercent = 10

// MaxPercent is the highest GOGC a Pacer sets: a heap of a quarter of the
// headroom or less may grow by four times its live data, its goal never
// under 16 MB (the runtime's 4 MB minimum heap, scaled by GOGC), so that
// its growth stays near the headroom however little it holds.
const MaxPercent = 400

// DefaultPercent is Go's GOGC default, and what Stop restores.
const DefaultPercent = 100

// Percent returns the GOGC that lets a heap of live bytes grow by about
// headroom: 100 × headroom / live, between MinPercent and MaxPercent. With
// nothing live yet (no collection so far) it is Go's default.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return DefaultPercent
	}
	return int(min(max(headroom*100/live, MinPercent), MaxPercent))
}

// Pacer sets GOGC after each collection. Start one per process; Stop it
// once.
type Pacer struct {
	headroom uint64
	stopped  atomic.Bool
	percent  int // the GOGC last set; only the finalizer goroutine uses it
	sample   []metrics.Sample
	stop     sync.Once
}

// sentinel is garbage whose finalizer runs after a collection; it holds a
// pointer so that it is not a tiny allocation (whose finalizer may wait
// for its neighbours).
type sentinel struct{ p *Pacer }

// Start returns a running Pacer with headroom bytes. It sets GOGC at once
// for the heap live so far, then after every collection.
func Start(headroom uint64) *Pacer {
	p := &Pacer{headroom: headroom, percent: -1,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.cycle()
	return p
}

// cycle sets GOGC for the live heap of the last collection and arms the
// next call.
func (p *Pacer) cycle() {
	if p.stopped.Load() {
		return
	}
	metrics.Read(p.sample)
	var live uint64
	if p.sample[0].Value.Kind() == metrics.KindUint64 {
		live = p.sample[0].Value.Uint64()
	}
	if pct := Percent(live, p.headroom); pct != p.percent {
		debug.SetGCPercent(pct)
		p.percent = pct
	}
	runtime.SetFinalizer(&sentinel{p}, func(s *sentinel) { s.p.cycle() })
}

// Stop stops pacing and restores GOGC=100.
func (p *Pacer) Stop() {
	p.stop.Do(func() {
		p.stopped.Store(true)
		debug.SetGCPercent(DefaultPercent)
	})
}

// Headroom is how far the bridge lets its heap grow past its live data
// before the next collection, when it paces the collector (docs/deploy.md's
// sizing). A bulk change allocates some 170 MB a second: 16 MiB had the
// collector run ten times a second, an eighth of the bridge's CPU; 32 MiB
// halves that for about 10 MB more peak memory (docs/performance.md).
const Headroom = 32 << 20

// Paced reports whether a bridge paces its collector itself (Start with
// Headroom): unless GOGC is set in getenv, or the process runs the
// embedded NATS server, whose heap is not the indexes' (its pointers make
// frequent collections dear).
func Paced(getenv func(string) string, embedded bool) bool {
	return getenv("GOGC") == "" && !embedded
}

// Desc says how a bridge's collector is paced, fit to be logged.
func Desc(getenv func(string) string, embedded bool) string {
	var d string
	switch {
	case Paced(getenv, embedded):
		d = fmt.Sprintf("paced: %d MiB of headroom, GOGC %d to %d", Headroom>>20, MinPercent, MaxPercent)
	case getenv("GOGC") != "":
		d = "GOGC=" + getenv("GOGC")
	default:
		d = "Go's default (GOGC=100): the embedded NATS server shares the heap"
	}
	if l := getenv("GOMEMLIMIT"); l != "" {
		d += ", GOMEMLIMIT=" + l
	}
	return d
}
