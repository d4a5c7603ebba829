package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/runtest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/testlog"
	"github.com/gormic/crm-bridge/schemas"
)

// rig is a poller's world in one test: an embedded JetStream server with
// the bridge's streams, the CRM simulator on a real port, and a way to
// read the events that came out.
type rig struct {
	t   *testing.T
	srv *embedded.Server
	js  jetstream.JetStream
	sim *crmsim.Simulator
	cfg Config
}

const testOrg = "org-test"

func newRig(t *testing.T, simOpts crmsim.Options) *rig {
	t.Helper()
	return newRigOn(t, simOpts, natstest.Server(t))
}

// newRigOn is newRig on the NATS server srv.
func newRigOn(t *testing.T, simOpts crmsim.Options, srv *embedded.Server) *rig {
	t.Helper()
	_, js := natstest.Connect(t, srv)
	natstest.EnsureStreams(t, js)
	return &rig{t: t, srv: srv, js: js, sim: simtest.Start(t, simOpts), cfg: Config{
		Prefix:   "crm",
		OrgID:    testOrg,
		Interval: 50 * time.Millisecond,
		LeaseTTL: 2 * time.Second,
		Logger:   testlog.New(t),
	}}
}

// client returns a CRM client of the rig's simulator, closed when the test
// ends.
func (r *rig) client() *crm.Client {
	r.t.Helper()
	c, err := crm.New(crm.Config{BaseURL: r.sim.URL(), APIKey: "key", OrgID: testOrg, Timeout: 5 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(c.Close)
	return c
}

// instance is one poller of the rig, with its own NATS connection, as one
// bridge process would have.
type instance struct {
	p    *Poller
	nc   *nats.Conn
	halt func(testing.TB)
}

// start starts a poller with cfg on its own connection, reading the CRM
// through client (nil: a client of the simulator); it is stopped when the
// test ends.
func (r *rig) start(cfg Config, client CRM, hook func(*Poller)) *instance {
	r.t.Helper()
	nc, js := natstest.Connect(r.t, r.srv) // its own, as a process has
	if client == nil {
		client = r.client()
	}
	p, err := New(js, client, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	if hook != nil {
		hook(p)
	}
	return &instance{p: p, nc: nc, halt: runtest.Start(r.t, p, nc.Close)}
}

// startReconciling starts a poller of the rig's config that reads the
// complete export every reconcile, and waits for its first complete poll.
func (r *rig) startReconciling(reconcile time.Duration) *instance {
	r.t.Helper()
	cfg := r.cfg
	cfg.ReconcileInterval = reconcile
	in := r.start(cfg, nil, nil)
	in.polls(r.t, 1)
	return in
}

// stop stops the poller gracefully and closes its connection.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.halt(t)
}

// polls waits until the poller has completed n more polls than it had,
// and returns its count then.
func (in *instance) polls(t *testing.T, n uint64) uint64 {
	t.Helper()
	want := in.p.Status().Polls + n
	eventually.True(t, 30*time.Second, fmt.Sprintf("%d complete polls", want), func() bool {
		return in.p.Status().Polls >= want
	})
	return in.p.Status().Polls
}

// stored is one event as the stream holds it.
type stored struct {
	Event
	seq    uint64
	header nats.Header
}

// events returns every change event in the stream, in order, each
// checked against schemas/event.schema.json.
func (r *rig) events() []stored {
	r.t.Helper()
	var out []stored
	for _, m := range natstest.Messages(r.t, r.js, streams.Events, "crm.customer.changed.>") {
		var e struct {
			Event
			DetectedAt string `json:"detectedAt"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			r.t.Fatalf("event %s: %v", m.Data(), err)
		}
		if err := schemas.Validate(schemas.Event, m.Data()); err != nil {
			r.t.Errorf("event %s: got %v, want it valid", m.Data(), err)
		}
		meta, _ := m.Metadata()
		out = append(out, stored{Event: e.Event, seq: meta.Sequence.Stream, header: m.Headers()})
	}
	return out
}

// waitEvents waits until the stream holds n change events and returns
// them.
func (r *rig) waitEvents(n int) []stored {
	r.t.Helper()
	eventually.True(r.t, 30*time.Second, fmt.Sprintf("%d events", n), func() bool {
		return r.count() >= n
	})
	return r.events()
}

// count returns how many change events the stream holds.
func (r *rig) count() int {
	return natstest.Count(r.js, streams.Events, "crm.customer.changed.>")
}

// hookedCRM is a CRM whose export calls after(page number from 1) after
// each page it yields, and can fail a page instead.
type hookedCRM struct {
	CRM
	after func(n int)
	fail  func(n int) error
}

func (h hookedCRM) Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error] {
	return func(yield func(crm.ExportPage, error) bool) {
		n := 0
		for page, err := range h.CRM.Export(ctx, since) {
			n++
			if err == nil && h.fail != nil {
				if ferr := h.fail(n); ferr != nil {
					yield(crm.ExportPage{}, ferr)
					return
				}
			}
			if !yield(page, err) {
				return
			}
			if h.after != nil {
				h.after(n)
			}
		}
	}
}

// object decodes a record for comparison, nil for none.
func object(t pgReporter, raw json.RawMessage) map[string]any {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	if isNull(raw) {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return m
}

// stateStore returns a store of the poller's state in js, under the
// tests' prefix "crm".
func stateStore(tb testing.TB, js jetstream.JetStream) *store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, StateStream)
	if err != nil {
		tb.Fatal(err)
	}
	return newStore(js, st, "crm", "")
}
