// Package runtest runs the bridge's long-lived parts (the command
// processor, the poller) in tests as a bridge process runs them: started
// within a deadline, and stopped gracefully within another, once, when the
// test asks or at its end.
package runtest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Part is what Start runs: a processor, a poller.
type Part interface {
	Start(context.Context) error
	Stop(context.Context) error
}

// Start starts p within 10 seconds, failing t when it cannot. It returns
// the function that stops p gracefully within 20 seconds (its error fails
// the t given to it) and then calls each of closers (to close what p used:
// its connection, its client); that function does its work once, however
// often it is called, and is called with t when the test ends.
func Start(t testing.TB, p Part, closers ...func()) (stop func(testing.TB)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func(t testing.TB) {
		t.Helper()
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := p.Stop(ctx); err != nil {
				t.Errorf("Stop: %v", err)
			}
			for _, c := range closers {
				c()
			}
		})
	}
	t.Cleanup(func() { stop(t) })
	return stop
}
