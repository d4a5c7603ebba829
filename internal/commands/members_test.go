package commands

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
)

// Each processor tells OnProcesses how many processes are live: itself
// alone before Start returns, every one once they have all started, one
// fewer once one has stopped.
func TestOnProcessesCountsLiveProcesses(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	counts := make([]atomic.Int64, 3)
	workers := make([]*worker, 3)
	for i := range workers {
		cfg := r.cfg
		cfg.OnProcesses = func(n int) { counts[i].Store(int64(n)) }
		workers[i] = r.startProcessor(cfg)
		if got := counts[i].Load(); got != int64(i+1) {
			t.Errorf("processor %d, right after Start: got %d processes, want %d", i, got, i+1)
		}
	}
	eventually.True(t, 10*time.Second, "not every processor counted 3 processes", func() bool {
		return counts[0].Load() == 3 && counts[1].Load() == 3 && counts[2].Load() == 3
	})
	workers[2].stop(t)
	eventually.True(t, 10*time.Second, "the two left did not count 2 processes", func() bool {
		return counts[0].Load() == 2 && counts[1].Load() == 2
	})
}
