package commands

import (
	"context"
	"encoding/json"
	"fmt"
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

// rig is a processor's world in one test: an embedded JetStream server with
// the bridge's streams, the CRM simulator on a real port, and a client for
// publishing commands and reading what came out.
type rig struct {
	t    *testing.T
	srv  *embedded.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	sim  *crmsim.Simulator
	subj streams.Subjects
	cfg  Config
}

const testPartitions = 8

func newRig(t *testing.T, simOpts crmsim.Options) *rig {
	t.Helper()
	srv := natstest.Server(t)
	nc, js := natstest.Connect(t, srv)
	natstest.EnsureStreams(t, js)
	sim := simtest.Start(t, simOpts)
	return &rig{t: t, srv: srv, nc: nc, js: js, sim: sim, subj: streams.Subjects{Prefix: "crm"}, cfg: Config{
		Prefix:         "crm",
		Concurrency:    testPartitions,
		InitialBackoff: 5 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		AckWait:        2 * time.Second,
		CallTimeout:    2 * time.Second,
		StopTimeout:    5 * time.Second,
		ProbeInterval:  100 * time.Millisecond,
		Logger:         testlog.New(t),
	}}
}

// worker is one processor of the rig, with its own NATS connection and
// CRM client, as one bridge process would have.
type worker struct {
	p      *Processor
	nc     *nats.Conn
	client *crm.Client
	halt   func(testing.TB)
}

func (r *rig) startProcessor(cfg Config) *worker {
	r.t.Helper()
	return r.startProcessorAt(cfg, r.sim.URL())
}

// startProcessorAt starts a worker whose CRM client calls crmURL instead of
// the simulator.
func (r *rig) startProcessorAt(cfg Config, crmURL string) *worker {
	r.t.Helper()
	nc, js := natstest.Connect(r.t, r.srv) // its own, as a process has
	client, err := crm.New(crm.Config{BaseURL: crmURL, APIKey: "key", OrgID: "org", Timeout: 2 * time.Second})
	if err != nil {
		r.t.Fatal(err)
	}
	p, err := New(nc, js, client, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return &worker{p: p, nc: nc, client: client, halt: runtest.Start(r.t, p, nc.Close, client.Close)}
}

// stop stops the worker gracefully and closes its connection and client.
func (w *worker) stop(t *testing.T) {
	t.Helper()
	w.halt(t)
}

// publish publishes a command with id as its Nats-Msg-Id.
func (r *rig) publish(subject, id string, body []byte) {
	r.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	if id != "" {
		m.Header.Set(nats.MsgIdHdr, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, m); err != nil {
		r.t.Fatalf("publish %s: %v", subject, err)
	}
}

// results returns the stored results by command id; every command id must
// have exactly one, and its Command-Id header must name it.
func (r *rig) results() map[string]Result {
	r.t.Helper()
	out := map[string]Result{}
	for _, m := range natstest.Messages(r.t, r.js, streams.Events, r.subj.Result()) {
		res := checkResult(r.t, m.Data())
		if _, dup := out[res.CommandID]; dup {
			r.t.Errorf("command %s has two results", res.CommandID)
		}
		if got := m.Headers().Get(HeaderCommandID); got != res.CommandID {
			r.t.Errorf("result of %s has Command-Id %q", res.CommandID, got)
		}
		out[res.CommandID] = res
	}
	return out
}

// resultCount returns how many results are stored.
func (r *rig) resultCount() int { return natstest.Count(r.js, streams.Events, r.subj.Result()) }

// waitResults waits until n results are stored and returns them.
func (r *rig) waitResults(n int, within time.Duration) map[string]Result {
	r.t.Helper()
	eventually.True(r.t, within, fmt.Sprintf("fewer than %d results", n), func() bool { return r.resultCount() >= n })
	return r.results()
}

// deadLetters returns the stored dead letters, each checked against
// dlq-headers.schema.json.
func (r *rig) deadLetters() []jetstream.Msg {
	r.t.Helper()
	letters := natstest.Messages(r.t, r.js, streams.DLQ, "crm.customer.dlq.*")
	for _, m := range letters {
		if err := schemas.ValidateDeadLetter(m.Headers()); err != nil {
			r.t.Errorf("dead letter %s: got %v, want its headers valid", m.Subject(), err)
		}
	}
	return letters
}

// checkResult checks a result's JSON against result.schema.json and
// decodes it.
func checkResult(t *testing.T, data []byte) Result {
	t.Helper()
	if err := schemas.Validate(schemas.Result, data); err != nil {
		t.Errorf("result %s: got %v, want it valid", data, err)
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("result %q: %v", data, err)
	}
	return res
}

func createBody(i int) []byte {
	return fmt.Appendf(nil, `{"firstName":"Ada%d","lastName":"Lovelace","phone":"+1 555 %07d"}`, i, i)
}
