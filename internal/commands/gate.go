package commands

import (
	"fmt"
	"sync"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// gate holds new commands back while the CRM cannot take them: during an
// outage (OutageAfter failed calls in a row), while it refuses the
// bridge's credentials, and while the CRM's URL does not reach its API (a
// 404 without the CRM's error envelope). Commands already being applied go on retrying;
// the first call that succeeds, theirs or the prober's, opens the gate.
type gate struct {
	mu        sync.Mutex
	threshold int
	failures  int
	reason    error         // why the gate is closed; nil when open
	since     time.Time     // when it closed
	config    crm.Class     // closed for the configuration: crm.Auth or crm.Misrouted; else 0
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
	g.reason, g.config = nil, 0
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
	g.closeLocked(fmt.Errorf("CRM unavailable: %v", err), 0)
	return true
}

// misconfigured closes the gate because the CRM's answer err says that
// the bridge's configuration is wrong: class is crm.Auth (the credentials)
// or crm.Misrouted (the URL). It returns true when the gate was not
// already closed for that class, so that the caller logs it once.
func (g *gate) misconfigured(class crm.Class, err error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reason != nil && g.config == class {
		return false
	}
	g.closeLocked(fmt.Errorf("%s: %v", misconfiguredReason(class), err), class)
	return true
}

// misconfiguredReason says what a configuration fault of class means, and
// which setting to check.
func misconfiguredReason(class crm.Class) string {
	if class == crm.Misrouted {
		return "CRM URL does not reach the CRM's API, HTTP 404 without its error envelope (check BRIDGE_CRM_URL)"
	}
	return "CRM refused the credentials (check BRIDGE_CRM_API_KEY and BRIDGE_CRM_ORG_ID)"
}

func (g *gate) closeLocked(reason error, config crm.Class) {
	if g.reason == nil {
		g.opened = make(chan struct{})
		g.since = time.Now()
	}
	g.reason, g.config = reason, config
}
