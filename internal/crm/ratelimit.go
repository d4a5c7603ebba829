package crm

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter spaces the client's requests to at most max per second. A 429
// halves the rate for every request (down to minRate); each answer that is
// not a 429 then raises it by a tenth of max per second since the last
// change, until it is back at max. A nil limiter does not limit.
type limiter struct {
	max float64
	lim *rate.Limiter

	mu      sync.Mutex
	cur     float64
	changed time.Time
}

// minRate is the lowest rate a run of 429s brings the client down to.
const minRate = 1.0

func newLimiter(perSecond float64) *limiter {
	if perSecond <= 0 {
		return nil
	}
	burst := max(1, int(perSecond/10))
	return &limiter{max: perSecond, cur: perSecond, lim: rate.NewLimiter(rate.Limit(perSecond), burst), changed: time.Now()}
}

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
	l.set(max(minRate, l.cur/2))
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
