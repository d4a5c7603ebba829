package commands

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
)

// Functions given to the pool run at once, each on a goroutine of its
// own, however many block (none waits for another to return), and the
// idle goroutines end at Close.
func TestPoolRunsEveryFunctionAtOnce(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPool(4)
	const n = 50
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for range n {
		p.Go(func() {
			started.Done()
			<-release // all n block together
			finished.Done()
		})
	}
	waitGroup(t, &started, "every function to start while the others block")
	close(release)
	waitGroup(t, &finished, "every function to return")
	// Reused: the next ones run on the idle goroutines.
	var again sync.WaitGroup
	again.Add(n)
	for range n {
		p.Go(again.Done)
	}
	waitGroup(t, &again, "the functions given after")
	p.Close()
	eventually.True(t, 10*time.Second, "the pool's goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("after 10s: %s", what)
	}
}
