package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrNoPoller is returned by a resync request that no active poller
// answered: no bridge process holds the poller's lease.
var ErrNoPoller = errors.New("poller: no active poller answered (is a bridge running?)")

// ErrResyncSilent is returned by ResyncClient.Run when the resync's
// progress stops coming: the active poller stopped or is out of reach.
var ErrResyncSilent = errors.New("poller: the resync's progress stopped coming")

// ResyncClient asks the active poller for a resync, from any process on
// the same NATS deployment (resync.go describes the subjects). Its
// methods are safe for concurrent use.
type ResyncClient struct {
	// NC is the connection; required.
	NC *nats.Conn
	// Prefix is the subject prefix (BRIDGE_SUBJECT_PREFIX); required.
	Prefix string
	// Wait bounds how long Start waits for an active poller when ctx has no
	// earlier deadline, asking again while none answers (a lease changing
	// hands). Default: 10s.
	Wait time.Duration
	// Silence is how long Run waits for the next progress report before it
	// gives up with ErrResyncSilent. Default: 15s.
	Silence time.Duration
}

// Start asks the active poller to begin a complete export at once, or to
// join the resync under way, and returns when it began. It fails with
// ErrNoPoller when no poller answered within Wait (or ctx), or with the
// poller's own reason.
func (c ResyncClient) Start(ctx context.Context) (time.Time, error) {
	wait := c.Wait
	if wait == 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait+resyncBeginWait)
	defer cancel()
	ask := time.Now().Add(wait) // after this, no new request
	for {
		m, err := c.NC.RequestWithContext(ctx, ResyncBeginSubject(c.Prefix), nil)
		if errors.Is(err, nats.ErrNoResponders) && time.Now().Before(ask) {
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return time.Time{}, fmt.Errorf("%w: %w", ErrNoPoller, ctx.Err())
			}
		}
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return time.Time{}, fmt.Errorf("%w within %v", ErrNoPoller, wait)
		case err != nil:
			return time.Time{}, fmt.Errorf("poller: resync request: %w", err)
		}
		var r ResyncReply
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return time.Time{}, fmt.Errorf("poller: resync reply %q: %w", m.Data, err)
		}
		if r.Error != "" {
			return time.Time{}, fmt.Errorf("poller: resync: %s", r.Error)
		}
		return r.Started, nil
	}
}

// Run starts a resync (as Start) and follows it: progress gets every
// report (it may be nil), and Run returns the last, once the resync is
// done; or an error when it failed (the report says why), when reports
// stop coming for Silence (ErrResyncSilent), or when ctx ends.
func (c ResyncClient) Run(ctx context.Context, progress func(ResyncProgress)) (ResyncProgress, error) {
	silence := c.Silence
	if silence == 0 {
		silence = 15 * time.Second
	}
	reports := make(chan *nats.Msg, 64)
	sub, err := c.NC.ChanSubscribe(ResyncProgressSubject(c.Prefix), reports)
	if err != nil {
		return ResyncProgress{}, fmt.Errorf("poller: resync progress: %w", err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection may be closed
	started, err := c.Start(ctx)
	if err != nil {
		return ResyncProgress{}, err
	}
	t := time.NewTimer(silence)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ResyncProgress{}, ctx.Err()
		case <-t.C:
			return ResyncProgress{}, fmt.Errorf("%w for %v", ErrResyncSilent, silence)
		case m := <-reports:
			var pr ResyncProgress
			if json.Unmarshal(m.Data, &pr) != nil || !pr.Started.Equal(started) {
				continue // another resync's, or not a report
			}
			t.Reset(silence)
			if progress != nil {
				progress(pr)
			}
			switch pr.State {
			case ResyncDone:
				return pr, nil
			case ResyncFailed:
				return pr, fmt.Errorf("poller: resync failed: %s", pr.Error)
			}
		}
	}
}

// Resync asks the active poller, in whichever bridge process holds the
// lease, to begin a complete export at once (or join the one under way),
// and returns when it began; it is the crm.bridge.resync endpoint's work.
// It waits for an active poller for as long as a standby takes to take
// over, max(2 × Interval, 10s), or until ctx ends, and fails with
// ErrNoPoller if none answered. Any process may call it, active or not.
func (p *Poller) Resync(ctx context.Context) (started time.Time, err error) {
	return ResyncClient{NC: p.js.Conn(), Prefix: p.cfg.Prefix, Wait: max(2*p.cfg.Interval, 10*time.Second)}.Start(ctx)
}
