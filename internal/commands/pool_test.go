package commands

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolRunsEveryFunction(t *testing.T) {
	p := newPool(time.Minute)
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); ran.Add(1) })
	}
	wg.Wait()
	p.close()
	if got := ran.Load(); got != 1000 {
		t.Fatalf("ran %d functions, want 1000", got)
	}
}

// TestPoolKeepsGoroutines: functions given one after another run on the
// goroutine the first started, kept idle between them.
func TestPoolKeepsGoroutines(t *testing.T) {
	p := newPool(time.Minute)
	defer p.close()
	done := make(chan struct{}, 1)
	p.Go(func() { done <- struct{}{} })
	<-done
	for i := range 100 {
		// The goroutine is idle once it is back in its select.
		deadline := time.Now().Add(10 * time.Second)
		for !p.tryIdle(func() { done <- struct{}{} }) {
			if time.Now().After(deadline) {
				t.Fatalf("function %d: no goroutine came back idle", i+2)
			}
			runtime.Gosched()
		}
		<-done
	}
	if n := p.starts.Load(); n != 1 {
		t.Fatalf("%d goroutines started for 101 functions one after another, want 1", n)
	}
}

func TestPoolIdleGoroutinesEnd(t *testing.T) {
	p := newPool(time.Millisecond)
	done := make(chan struct{})
	p.Go(func() { close(done) })
	<-done
	ended := make(chan struct{})
	go func() { p.wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("an idle goroutine did not end after its idle time")
	}
	p.close()
}

func TestPoolCloseWaitsForFunctions(t *testing.T) {
	p := newPool(time.Minute)
	release := make(chan struct{})
	var finished atomic.Bool
	p.Go(func() { <-release; finished.Store(true) })
	closed := make(chan struct{})
	go func() { p.close(); close(closed) }()
	close(release)
	<-closed
	if !finished.Load() {
		t.Fatal("close returned before the function did")
	}
}
