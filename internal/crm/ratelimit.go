package crm

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter spaces the client's requests to at most its share of the budget
// per second: the budget (Config.Rate, the whole deployment's) divided by
// the live processes that share it (1 until setProcesses says otherwise).
// The burst is a tenth of the share, at least 1. A 429 halves the rate for
// every request (down to minRate, or the share if that is lower); each
// answer that is not a 429 then raises it by a tenth of the share per
// second since the last change, until it is back at the share. A nil
// limiter does not limit.
type limiter struct {
	budget float64
	lim    *rate.Limiter

	mu      sync.Mutex
	procs   int
	max     float64 // the share: budget / procs
	cur     float64
	changed time.Time
}

// minRate is the lowest rate a run of 429s brings the client down to (or
// the share, when that is lower).
const minRate = 1.0

func newLimiter(budget float64) *limiter {
	if budget <= 0 {
		return nil
	}
	return &limiter{budget: budget, procs: 1, max: budget, cur: budget, lim: rate.NewLimiter(rate.Limit(budget), burstOf(budget)), changed: time.Now()}
}

// burstOf returns the burst for a share: a tenth of it, at least 1.
func burstOf(share float64) int { return max(1, int(share/10)) }

// wait blocks until a request may be sent, or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil {
		return nil
	}
	return l.lim.Wait(ctx)
}

// throttled records a 429.
func (l *limiter) throttled() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.changed) < time.Second && l.cur < l.max {
		return // one halving per second, however many 429s were in flight
	}
	l.set(max(min(minRate, l.max), l.cur/2))
}

// answered records an answer that was not a 429.
func (l *limiter) answered() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur >= l.max {
		return
	}
	if since := time.Since(l.changed); since >= time.Second {
		l.set(min(l.max, l.cur+l.max/10*since.Seconds()))
	}
}

// setProcesses makes the share budget/n (n below 1 counts as 1) and
// returns it, and whether it changed. A rate lowered by 429s stays lowered
// by the same fraction of the new share.
func (l *limiter) setProcesses(n int) (share float64, changed bool) {
	if l == nil {
		return 0, false
	}
	n = max(n, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if n == l.procs {
		return l.max, false
	}
	old := l.max
	l.procs, l.max = n, l.budget/float64(n)
	if l.cur >= old {
		l.cur = l.max
	} else {
		l.cur = min(l.max, max(min(minRate, l.max), l.cur*l.max/old))
	}
	l.lim.SetBurst(burstOf(l.max))
	l.lim.SetLimit(rate.Limit(l.cur))
	return l.max, true
}

func (l *limiter) set(r float64) {
	l.cur, l.changed = r, time.Now()
	l.lim.SetLimit(rate.Limit(r))
}

// current returns the rate in force, for tests and metrics.
func (l *limiter) current() float64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// share returns the process's share of the budget (0: no limit).
func (l *limiter) share() float64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}
