package queries

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// world is a NATS server with the read model's buckets.
type world struct {
	srv       *embedded.Server
	nc        *nats.Conn
	customers jetstream.KeyValue
	status    jetstream.KeyValue
}

func newWorld(t *testing.T, opts embedded.Options) *world {
	t.Helper()
	opts.StoreDir = t.TempDir()
	srv := natstest.Start(t, opts)
	nc, js := natstest.Connect(t, srv)
	customers, status, err := model.Ensure(ctx(t), js, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &world{srv: srv, nc: nc, customers: customers, status: status}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// record returns a UserMap shaped as the simulator's.
func record(id, first, phone, email string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "firstName": first, "lastName": nil, "email": email, "phone": phone,
		"phoneCountry": "US", "phoneCountryCalling": "1", "number": "1", "gender": map[string]string{"code": "F"},
		"createdAt": "2026-12-01T10:00:00Z", "updatedAt": "2026-12-01T10:00:00Z",
	})
	return b
}

func (w *world) put(t *testing.T, id string, rec []byte) {
	t.Helper()
	if _, err := w.customers.Put(ctx(t), model.Key(id), rec); err != nil {
		t.Fatal(err)
	}
}

func (w *world) fill(t *testing.T, asOf time.Time) {
	t.Helper()
	if err := model.WriteStatus(ctx(t), w.status, model.Status{Filled: true, AsOf: asOf}); err != nil {
		t.Fatal(err)
	}
}

// serve starts a Service on its own connection.
func (w *world) serve(t *testing.T, cfg Config) *Service {
	t.Helper()
	nc, js := natstest.Connect(t, w.srv)
	if cfg.Prefix == "" {
		cfg.Prefix = "crm"
	}
	s, err := New(nc, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	// The index is built once the model is filled.
	eventually.True(t, 10*time.Second, "the status read, and the index built if the model is filled", func() bool {
		st := s.status.Load()
		return s.statusSeen.Load() && (st == nil || !st.Filled || s.Indexed())
	})
	return s
}

// answer is a query's reply.
type answer struct {
	code, errCode string // the service error headers
	body          map[string]json.RawMessage
	raw           []byte
}

func (w *world) ask(t *testing.T, subject, body string) answer {
	t.Helper()
	m, err := w.nc.Request(subject, []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	a := answer{code: m.Header.Get("Nats-Service-Error-Code"), errCode: m.Header.Get("Nats-Service-Error"), raw: m.Data}
	if err := json.Unmarshal(m.Data, &a.body); err != nil {
		t.Fatalf("%s: reply %q is no JSON object: %v", subject, m.Data, err)
	}
	return a
}

// ok fails t unless a is no error.
func (a answer) ok(t *testing.T) answer {
	t.Helper()
	if a.code != "" {
		t.Fatalf("got error %s %s: %s, want an answer", a.code, a.errCode, a.raw)
	}
	return a
}

// ids returns the ids of a's items.
func (a answer) ids(t *testing.T) []string {
	t.Helper()
	var items []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(a.body["items"], &items); err != nil {
		t.Fatalf("items of %s: %v", a.raw, err)
	}
	ids := []string{}
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

func str(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is no string", raw)
	}
	return s
}

// waitCounter waits until crm_bridge_queries_total{endpoint, status} is
// want. A handler counts an answer just after it sends it, on the
// endpoint's goroutine: the test can have the answer, and ask the next
// endpoint, before the count is in.
func waitCounter(t *testing.T, reg *prometheus.Registry, endpoint, status string, want float64) {
	t.Helper()
	var got float64
	if !eventually.Within(10*time.Second, func() bool {
		got = counter(t, reg, endpoint, status)
		return got == want
	}) {
		t.Errorf("metric %s %s: got %v, want %v", endpoint, status, got, want)
	}
}

// counter returns crm_bridge_queries_total{endpoint, status}; 0 if none.
func counter(t *testing.T, reg *prometheus.Registry, endpoint, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "crm_bridge_queries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["status"] == status {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// collect sends a request to subject and returns the first n replies.
func (w *world) collect(t *testing.T, subject string, n int) [][]byte {
	t.Helper()
	sub, err := w.nc.SubscribeSync(w.nc.NewRespInbox())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := w.nc.PublishRequest(subject, sub.Subject, nil); err != nil {
		t.Fatal(err)
	}
	var replies [][]byte
	for i := range n {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: reply %d of %d: %v", subject, i+1, n, err)
		}
		replies = append(replies, m.Data)
	}
	return replies
}
