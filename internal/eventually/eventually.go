// Package eventually waits in tests for a condition to hold, polling it
// with a deadline, instead of sleeping and hoping.
package eventually

import (
	"testing"
	"time"
)

// Interval is how often a condition is polled.
const Interval = 10 * time.Millisecond

// True polls cond until it returns true, and fails t with what if that has
// not happened within d.
func True(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(d, cond) {
		t.Fatalf("after %v: %s", d, what)
	}
}

// Within polls cond until it returns true (Within returns true) or d has
// passed (Within returns false).
func Within(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
