package poller

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// A resync is a complete export that someone asked for (bridge resync, or
// the crm-bridge service's crm.bridge.resync): the active poller begins it
// at once, as its next poll, and reports its progress. It is a reconcile
// like the periodic one: it publishes an event for every difference, finds
// the customers that are gone, and repairs the read model.
//
// Two internal core NATS subjects carry it (not part of the contract):
//   - <prefix>.bridge.resync.begin: a request, empty; only the active
//     poller subscribes (queue group resyncQueue). It answers
//     ResyncReply once the complete export has begun, or joined one under
//     way.
//   - <prefix>.bridge.resync.progress: the active poller publishes
//     ResyncProgress every resyncProgressEvery while a resync runs, and
//     once more when it is done or failed.

// resyncQueue is the queue group of the begin subject: one poller answers
// even while a lease changes hands.
const resyncQueue = "crm-bridge-poller"

// resyncBeginWait bounds how long the active poller lets a request wait
// for the poll under way to end before it answers that it could not begin.
const resyncBeginWait = 30 * time.Second

// resyncProgressEvery is how often a running resync reports its progress.
const resyncProgressEvery = time.Second

// ResyncBeginSubject is the subject that asks the active poller for a resync.
func ResyncBeginSubject(prefix string) string { return prefix + ".bridge.resync.begin" }

// ResyncProgressSubject is the subject of a resync's progress reports.
func ResyncProgressSubject(prefix string) string { return prefix + ".bridge.resync.progress" }

// Resync states, in ResyncProgress.State.
const (
	ResyncRunning = "running"
	ResyncDone    = "done"
	ResyncFailed  = "failed"
)

// ResyncReply is the active poller's answer to a begin request.
type ResyncReply struct {
	// Started is when the complete export began; it names the resync in
	// its progress reports.
	Started time.Time `json:"started"`
	// Error says why no resync began; Started is zero then.
	Error string `json:"error,omitempty"`
}

// ResyncProgress is one progress report of a resync.
type ResyncProgress struct {
	Started time.Time `json:"started"`
	State   string    `json:"state"` // ResyncRunning, ResyncDone or ResyncFailed
	Pages   int       `json:"pages"`
	Records int       `json:"records"`
	// Events counts the events published, Deletes the deleted among them.
	Events  int    `json:"events"`
	Deletes int    `json:"deletes"`
	Error   string `json:"error,omitempty"`
}

// resyncs is the active poller's queue of resync requests. Its zero value
// is ready to use.
type resyncs struct {
	mu      sync.Mutex
	waiting []chan ResyncReply
	running *time.Time
	kick    chan struct{} // made by wake
}

// wake returns the channel that a request wakes the poll loop with.
func (r *resyncs) wake() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kick == nil {
		r.kick = make(chan struct{}, 1)
	}
	return r.kick
}

// request asks for a resync: its channel gets the reply once one begins,
// at once if one runs (the request joins it).
func (r *resyncs) request() <-chan ResyncReply {
	ch := make(chan ResyncReply, 1)
	kick := r.wake()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != nil {
		ch <- ResyncReply{Started: *r.running}
		return ch
	}
	r.waiting = append(r.waiting, ch)
	select {
	case kick <- struct{}{}:
	default:
	}
	return ch
}

// begin starts a resync at now if any was requested, answering every
// request; it returns false when none was.
func (r *resyncs) begin(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.waiting) == 0 {
		return false
	}
	for _, ch := range r.waiting {
		ch <- ResyncReply{Started: now}
	}
	r.waiting, r.running = nil, &now
	return true
}

// end marks the running resync over.
func (r *resyncs) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running = nil
}

// fail answers every waiting request with err: the poller is no longer
// active.
func (r *resyncs) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.waiting {
		ch <- ResyncReply{Error: err.Error()}
	}
	r.waiting = nil
}

// serveResync subscribes the active poller to the begin subject; the
// returned function unsubscribes and answers the requests still waiting.
func (p *Poller) serveResync() (func(), error) {
	sub, err := p.js.Conn().QueueSubscribe(ResyncBeginSubject(p.cfg.Prefix), resyncQueue, func(m *nats.Msg) {
		ch := p.resyncs.request()
		go func() {
			t := time.NewTimer(resyncBeginWait)
			defer t.Stop()
			var reply ResyncReply
			select {
			case reply = <-ch:
			case <-t.C:
				reply.Error = "the active poller could not begin a complete export within " + resyncBeginWait.String()
			}
			body, _ := json.Marshal(reply) // cannot fail
			if err := m.Respond(body); err != nil {
				p.log.Warn("poller cannot answer a resync request", "err", err)
			}
		}()
	})
	if err != nil {
		return nil, err
	}
	return func() {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			p.log.Debug("poller: cannot unsubscribe from resync requests", "err", err)
		}
		p.resyncs.fail(errors.New("the poller stopped being active; ask again"))
	}, nil
}

// reportResync publishes ps's progress every resyncProgressEvery until the
// returned function is called with the pass's outcome, which it reports
// as done or failed.
func (p *Poller) reportResync(ps *pass) func(error) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(resyncProgressEvery)
		defer t.Stop()
		for {
			p.publishProgress(ps.progress(ResyncRunning, nil))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	return func(err error) {
		close(stop)
		wg.Wait()
		state := ResyncDone
		if err != nil {
			state = ResyncFailed
		}
		pr := ps.progress(state, err)
		p.publishProgress(pr)
		p.resyncs.end()
		p.log.Info("resync "+state, "pages", pr.Pages, "records", pr.Records, "events", pr.Events, "deletes", pr.Deletes, "err", err)
	}
}

// publishProgress publishes one report on core NATS: a subscriber that
// misses one gets the next.
func (p *Poller) publishProgress(pr ResyncProgress) {
	body, _ := json.Marshal(pr) // cannot fail
	if err := p.js.Conn().Publish(ResyncProgressSubject(p.cfg.Prefix), body); err != nil {
		p.log.Debug("poller: cannot publish resync progress", "err", err)
	}
}

// progress is ps's counts as a report.
func (ps *pass) progress(state string, err error) ResyncProgress {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	pr := ResyncProgress{Started: ps.start, State: state, Pages: ps.pages, Records: ps.records, Events: ps.events, Deletes: ps.deletes}
	if err != nil {
		pr.Error = err.Error()
	}
	return pr
}
