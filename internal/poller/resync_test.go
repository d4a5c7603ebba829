package poller

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// fullCRM counts the complete exports (since zero) read through it, and
// holds each one before its first page while hold is set.
type fullCRM struct {
	CRM
	full atomic.Int32
	mu   sync.Mutex
	hold chan struct{} // nil: do not hold
}

func (f *fullCRM) Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error] {
	if since.IsZero() {
		f.full.Add(1)
		f.mu.Lock()
		hold := f.hold
		f.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
			}
		}
	}
	return f.CRM.Export(ctx, since)
}

func (f *fullCRM) setHold(c chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = c
}

// resyncClient is a client of the rig's server, closed with the test.
func (r *rig) resyncClient() ResyncClient {
	r.t.Helper()
	nc, _ := natstest.Connect(r.t, r.srv)
	return ResyncClient{NC: nc, Prefix: "crm", Wait: 5 * time.Second}
}

// Issue 12, part 4: a resync runs a complete export at once (the
// reconcile interval is an hour), publishes the delete that only a
// complete export finds, reports its progress, and ends done; the
// standby runs no complete export.
func TestResync(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(8)
	active := &fullCRM{CRM: r.client()}
	in := r.start(r.cfg, active, nil)
	in.polls(t, 1)
	standby := &fullCRM{CRM: r.client()}
	r.start(r.cfg, standby, nil)
	gone := r.sim.Customers()[3].ID
	if err := r.sim.Delete(gone); err != nil {
		t.Fatal(err)
	}
	in.polls(t, 2) // incremental polls do not see the delete
	if n := r.count(); n != 0 {
		t.Fatalf("got %d events before the resync, want 0", n)
	}

	var reports []ResyncProgress
	last, err := r.resyncClient().Run(context.Background(), func(pr ResyncProgress) { reports = append(reports, pr) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if last.State != ResyncDone || last.Deletes != 1 || last.Events != 1 || last.Records != 7 || last.Pages != 3 {
		t.Errorf("last report: got %+v, want done, 1 delete and 1 event of 7 records in 3 pages", last)
	}
	if len(reports) == 0 || reports[len(reports)-1] != last {
		t.Errorf("reports: got %+v, want them to end with %+v", reports, last)
	}
	evs := r.events()
	if len(evs) != 1 || evs[0].CustomerID != gone || evs[0].Change != Deleted {
		t.Errorf("events: got %+v, want one deleted of %s", evs, gone)
	}
	if got := active.full.Load(); got != 2 {
		t.Errorf("complete exports of the active poller: got %d, want 2 (the first start and the resync)", got)
	}
	if got := standby.full.Load(); got != 0 {
		t.Errorf("complete exports of the standby: got %d, want 0", got)
	}
	// The model's repair: TestResyncThroughService.
}

// A resync asked for while one runs joins it: both requests get the same
// start, and one complete export runs.
func TestResyncJoins(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(4)
	f := &fullCRM{CRM: r.client()}
	in := r.start(r.cfg, f, nil)
	in.polls(t, 1)
	hold := make(chan struct{})
	f.setHold(hold)
	c := r.resyncClient()
	first, err := c.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 10*time.Second, "the resync's export begun", func() bool { return f.full.Load() == 2 })
	second, err := c.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !second.Equal(first) {
		t.Errorf("second request: got start %v, want %v (joined)", second, first)
	}
	// A third request joins too: its first progress report, which comes
	// while the export is still held, shows it has the first's start.
	var last ResyncProgress
	var runErr error
	var wg sync.WaitGroup
	joined := make(chan struct{})
	var once sync.Once
	wg.Go(func() {
		last, runErr = c.Run(context.Background(), func(ResyncProgress) { once.Do(func() { close(joined) }) })
	})
	select {
	case <-joined:
	case <-time.After(30 * time.Second):
		t.Fatal("the third request saw no progress of the resync within 30s")
	}
	f.setHold(nil)
	close(hold)
	wg.Wait()
	if runErr != nil || !last.Started.Equal(first) || last.State != ResyncDone {
		t.Errorf("a third request, run: got %+v, %v; want the first resync done", last, runErr)
	}
	if got := f.full.Load(); got != 2 {
		t.Errorf("complete exports: got %d, want 2 (the first start and one resync)", got)
	}
}

// Without an active poller a resync fails with ErrNoPoller, within Wait.
func TestResyncWithoutPoller(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	c := r.resyncClient()
	c.Wait = 300 * time.Millisecond
	_, err := c.Start(context.Background())
	if !errors.Is(err, ErrNoPoller) {
		t.Fatalf("got %v, want ErrNoPoller", err)
	}
}

// A resync whose export fails is reported failed, with the CRM's error.
func TestResyncFails(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(4)
	var failing atomic.Bool
	in := r.start(r.cfg, hookedCRM{CRM: r.client(), fail: func(int) error {
		if failing.Load() {
			return errors.New("export broke")
		}
		return nil
	}}, nil)
	in.polls(t, 1)
	failing.Store(true)
	last, err := r.resyncClient().Run(context.Background(), nil)
	if err == nil || last.State != ResyncFailed || last.Error == "" {
		t.Errorf("got %+v, %v; want a failed report and an error", last, err)
	}
}
