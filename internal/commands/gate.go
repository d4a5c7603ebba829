package commands

import (
	"fmt"
	"sync"
	"time"
)

// gate holds new commands back while the CRM cannot take them: during an
// outage (OutageAfter failed calls in a row) and while it refuses the
// bridge's credentials. Commands already being applied go on retrying;
// the first call that succeeds, theirs or the prober's, opens the gate.
type gate struct {
	mu        sync.Mutex
	threshold int
	failures  int
	reason    error         // why the gate is closed; nil when open
	since     time.Time     // when it closed
	auth      bool          // closed because of credentials
	opened    chan struct{} // closed while the gate is open
}

func newGate(threshold int) *gate {
	g := &gate{threshold: threshold, opened: make(chan struct{})}
	close(g.opened)
	return g
}

// wait returns true when the gate is open, or false when either done
// channel is closed first.
func (g *gate) wait(done, stopping <-chan struct{}) bool {
	g.mu.Lock()
	ch := g.opened
	g.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-done:
		return false
	case <-stopping:
		return false
	}
}

// closed returns why the gate is closed, or nil.
func (g *gate) closed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reason == nil {
		return nil
	}
	return fmt.Errorf("%w (since %s)", g.reason, g.since.UTC().Format(time.RFC3339))
}

// answered records a call that the CRM answered (success or a functional
// error): the CRM is up, and it took the credentials.
func (g *gate) answered() (reopened bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures = 0
	if g.reason == nil {
		return false
	}
	g.reason, g.auth = nil, false
	close(g.opened)
	return true
}

// unavailable records a call that got no usable answer. It closes the gate
// after threshold of them in a row; it returns true when it did.
func (g *gate) unavailable(err error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures++
	if g.reason != nil || g.failures < g.threshold {
		return false
	}
	g.closeLocked(fmt.Errorf("CRM unavailable: %v", err), false)
	return true
}

// unauthorized closes the gate because the CRM refused the credentials;
// it returns true when the gate was open.
func (g *gate) unauthorized(err error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reason != nil && g.auth {
		return false
	}
	wasOpen := g.reason == nil
	g.closeLocked(fmt.Errorf("CRM refused the credentials (check BRIDGE_CRM_API_KEY and BRIDGE_CRM_ORG_ID): %v", err), true)
	return wasOpen
}

func (g *gate) closeLocked(reason error, auth bool) {
	if g.reason == nil {
		g.opened = make(chan struct{})
		g.since = time.Now()
	}
	g.reason, g.auth = reason, auth
}
