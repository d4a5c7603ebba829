// Package gcpace paces Go's garbage collector for a process whose heap is
// mostly large, long-lived data without pointers (the bridge's indexes:
// a million customers are some 130 MB that the collector marks in
// microseconds, since it need not look inside them, but that GOGC=100
// doubles).
//
// Go's default (GOGC=100) lets the heap grow to twice its live data
// before the next collection: the more the process holds, the more
// garbage it may also hold. A Pacer caps that growth at a fixed headroom
// instead: after each collection it sets GOGC to 100 × headroom / live,
// between MinPercent and 100, so that a small heap is paced as by default
// and a large one grows by at most about headroom (never less than a
// tenth of its live data, so that the collector does not run all the
// time: its cost is the pointers it follows, not the heap's size).
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

// DefaultPercent is Go's GOGC default, the highest a Pacer sets, and what
// Stop restores.
const DefaultPercent = 100

// Percent returns the GOGC that lets a heap of live bytes grow by about
// headroom: 100 × headroom / live, between MinPercent and DefaultPercent.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return DefaultPercent
	}
	return int(min(max(headroom*100/live, MinPercent), DefaultPercent))
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
// sizing).
const Headroom = 16 << 20

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
		d = fmt.Sprintf("paced: %d MiB of headroom, GOGC %d to %d", Headroom>>20, MinPercent, DefaultPercent)
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
