package commands

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/testlog"
)

// bare404 starts a server that answers every request with a 404 without
// the CRM's error envelope, as a gateway with no route does, and counts
// the requests by method.
func bare404(t *testing.T) (url string, seen func(method string) int64) {
	t.Helper()
	var gets, others atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		} else {
			others.Add(1)
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/wrong-prefix", func(method string) int64 {
		if method == http.MethodGet {
			return gets.Load()
		}
		return others.Load()
	}
}

// A 404 without the CRM's error envelope says nothing about the customer:
// the processor holds every command (no result, no dead letter), says why
// at once, keeps probing, and a processor with the right URL applies them
// all. A 404 with the envelope (the simulator's) is still NotFound.
func TestBare404HoldsCommandsUntilTheURLIsFixed(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	c1, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550101"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Bob", Phone: "5550102"})
	if err != nil {
		t.Fatal(err)
	}
	url, seen := bare404(t)
	w := r.startProcessorAt(r.cfg, url)
	// At start, before any command: not ready, naming the cause and the URL.
	eventually.True(t, 10*time.Second, "processor ready against a bare 404", func() bool { return w.p.Ready() != nil })
	for _, want := range []string{"BRIDGE_CRM_URL", "404", url} {
		if err := w.p.Ready(); !strings.Contains(err.Error(), want) {
			t.Errorf("got Ready %q, want it to name %q", err, want)
		}
	}
	r.publish(r.subj.Update(c1.ID), "update", []byte(`{"email":"a@example.com"}`))
	r.publish(r.subj.Delete(c2.ID), "delete", nil)
	r.publish(r.subj.Create(), "create", createBody(1))
	r.publish(r.subj.Update("cus_missing"), "update-missing", []byte(`{"email":"m@example.com"}`))
	r.publish(r.subj.Create(), "invalid", []byte(`{"firstName":`))
	// The invalid command needs no CRM: its result shows the consumer moves.
	eventually.True(t, 10*time.Second, "no result for the invalid command", func() bool { return r.resultCount() == 1 })
	// The probe keeps asking; by then nothing else has ended.
	probes := seen(http.MethodGet)
	eventually.True(t, 10*time.Second, "the probe stopped asking", func() bool { return seen(http.MethodGet) >= probes+2 })
	if got := r.results(); len(got) != 1 || got["invalid"].Status != StatusRejected {
		t.Errorf("got results %v, want only the invalid command's", got)
	}
	if dl := r.deadLetters(); len(dl) != 1 {
		t.Errorf("got %d dead letters, want only the invalid command's", len(dl))
	}
	if got := seen(http.MethodPost) + seen(http.MethodPatch); got != 0 {
		t.Errorf("got %d commands sent while the gate was closed, want none", got)
	}
	w.stop(t)

	r.startProcessor(r.cfg)
	results := r.waitResults(5, 30*time.Second)
	want := map[string]string{"update": StatusApplied, "delete": StatusApplied, "create": StatusApplied,
		"update-missing": StatusRejected, "invalid": StatusRejected}
	for id, status := range want {
		if res := results[id]; res.Status != status {
			t.Errorf("%s: got %+v, want %s", id, res, status)
		}
	}
	if e := results["update-missing"].Error; e == nil || e.Code != crm.CodeNotFound {
		t.Errorf("update of a missing customer: got error %+v, want NotFound", e)
	}
	if _, ok := r.sim.Customer(c2.ID); ok {
		t.Errorf("customer %s not deleted", c2.ID)
	}
}

// applyOnce applies cmd with a fresh applier whose client calls url.
func applyOnce(t *testing.T, url string, cfg Config, cmd Command, d delivery) outcome {
	t.Helper()
	client, err := crm.New(crm.Config{BaseURL: url, APIKey: "key", OrgID: "org", Timeout: 2 * time.Second, PageRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	cfg = cfg.withDefaults()
	a := &applier{crm: client, cfg: cfg, gate: newGate(cfg.OutageAfter), metrics: newMetrics(nil, nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.apply(ctx, cmd, d, 0, newCmdLog(testlog.New(t), command{id: "c1", op: cmd.Op, customerID: cmd.CustomerID}))
}

// Result codes as the contract says: a 4xx without a functional code is
// rejected as CRM_HTTP_<status>, but 401, 403 and a bare 404 hold the
// command (nothing final), and 408 and 429 are retried.
func TestResultCodesOfBareStatuses(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		op      string
		want    string // status; "held" for blocked
		code    string
		retried bool
	}{
		{name: "400 update", status: 400, op: "update", want: StatusRejected, code: "CRM_HTTP_400"},
		{name: "405 delete", status: 405, op: "delete", want: StatusRejected, code: "CRM_HTTP_405"},
		{name: "409 create", status: 409, op: "create", want: StatusRejected, code: "CRM_HTTP_409"},
		{name: "410 update", status: 410, op: "update", want: StatusRejected, code: "CRM_HTTP_410"},
		{name: "422 update", status: 422, op: "update", want: StatusRejected, code: "CRM_HTTP_422"},
		{name: "401 update", status: 401, op: "update", want: "held"},
		{name: "403 delete", status: 403, op: "delete", want: "held"},
		{name: "404 update", status: 404, op: "update", want: "held"},
		{name: "404 delete", status: 404, op: "delete", want: "held"},
		{name: "404 create", status: 404, op: "create", want: "held"},
		{name: "408 update", status: 408, op: "update", want: StatusApplied, retried: true},
		{name: "429 delete", status: 429, op: "delete", want: StatusApplied, retried: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) > 1 {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, `{"app":"crm","service":"s","instanceId":"i","requestId":"r","warnings":[],"data":{"succeed":true,"id":"cus_new"}}`)
					return
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			cmd := Command{Op: tt.op, CustomerID: "cus_1", Create: crm.CreateParams{FirstName: "Ada", Phone: "5550100"},
				Update: crm.UpdateParams{Email: ptrTo("a@example.com")}}
			if tt.op == "create" {
				cmd.CustomerID = ""
			}
			out := applyOnce(t, srv.URL, Config{Prefix: "crm", Concurrency: 1, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, cmd, delivery{published: time.Now()})
			got := out.status
			if out.blocked {
				got = "held"
			}
			code := ""
			if out.err != nil {
				code = out.err.Code
			}
			if got != tt.want || code != tt.code {
				t.Errorf("got %s %q (%+v), want %s %q", got, code, out, tt.want, tt.code)
			}
			if tt.retried && out.attempts != 2 {
				t.Errorf("got %d attempts, want 2", out.attempts)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
