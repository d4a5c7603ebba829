package crmsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
)

// TestErrorRate checks that a seeded error rate fails a deterministic
// share of requests with ErrorStatus and applies nothing for them.
func TestErrorRate(t *testing.T) {
	run := func(t *testing.T) []int {
		t.Helper()
		h := start(t, Options{})
		if err := h.sim.SetFaults(Faults{Seed: 7, ErrorRate: 0.5, ErrorStatus: 502}); err != nil {
			t.Fatal(err)
		}
		var statuses []int
		applied := 0
		for i := range 40 {
			a := h.call("POST", "/v1/crm/customers", fmt.Sprintf(`{"params":{"firstName":"A","phone":"+1555010%04d"}}`, i), nil)
			statuses = append(statuses, a.status)
			switch a.status {
			case 200:
				applied++
				checkDoc(t, a, docValid)
			case 502:
				checkDoc(t, a, docUndeclared)
			default:
				t.Fatalf("got %d %s, want 200 or 502", a.status, a.body)
			}
		}
		if h.sim.Len() != applied {
			t.Errorf("got %d customers, want %d (the 200s)", h.sim.Len(), applied)
		}
		if applied < 10 || applied > 30 {
			t.Errorf("got %d of 40 applied, want about half", applied)
		}
		return statuses
	}
	first, second := run(t), run(t)
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("same seed, different faults:\n%v\n%v", first, second)
	}
}

// TestRateLimit checks 429 with Retry-After in seconds and as a date.
func TestRateLimit(t *testing.T) {
	clk := newClock()
	tests := []struct {
		name   string
		faults Faults
		want   string
	}{
		{name: "seconds", faults: Faults{RateLimitRate: 1, RetryAfter: 1500 * time.Millisecond}, want: "2"},
		{name: "default", faults: Faults{RateLimitRate: 1}, want: "1"},
		{name: "http date", faults: Faults{RateLimitRate: 1, RetryAfter: 3 * time.Second, RetryAfterHTTPDate: true},
			want: clk.Now().Add(4 * time.Second).Format(http.TimeFormat)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, Options{Now: clk.Now})
			if err := h.sim.SetFaults(tt.faults); err != nil {
				t.Fatal(err)
			}
			a := h.call("POST", "/v1/crm/customers", `{"params":{"firstName":"A","phone":"+15550100001"}}`, nil)
			if a.status != 429 || a.code() != "RATE_LIMITED" || a.header.Get("Retry-After") != tt.want {
				t.Errorf("got %d %s Retry-After %q, want 429 Retry-After %q", a.status, a.body, a.header.Get("Retry-After"), tt.want)
			}
			checkDoc(t, a, docUndeclared)
			if h.sim.Len() != 0 {
				t.Errorf("got %d customers, want none", h.sim.Len())
			}
		})
	}
}

// TestLatency checks that latency delays answers and that a client giving
// up meanwhile gets nothing applied.
func TestLatency(t *testing.T) {
	h := start(t, Options{})
	if err := h.sim.SetFaults(Faults{Latency: 50 * time.Millisecond, LatencyJitter: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if a := h.call("GET", "/v1/crm/customers", nil, nil); a.status != 200 {
		t.Fatalf("got %d, want 200", a.status)
	}
	if d := time.Since(began); d < 50*time.Millisecond {
		t.Errorf("answered after %v, want at least 50ms", d)
	}

	if err := h.sim.SetFaults(Faults{Latency: time.Minute}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began = time.Now()
	_, err := h.try(ctx, "POST", "/v1/crm/customers", `{"params":{"firstName":"A","phone":"+15550100001"}}`, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the client's deadline", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("gave up after %v, want about 100ms", d)
	}
	eventually.True(t, 5*time.Second, "the canceled request to be counted", func() bool {
		return h.sim.Stats()[StatKey{OpCreate, StatusClientClosed}] == 1
	})
	if h.sim.Len() != 0 {
		t.Errorf("got %d customers, want none", h.sim.Len())
	}
}

// TestDropAfterApply checks that the change is applied while the client
// gets no answer.
func TestDropAfterApply(t *testing.T) {
	h := start(t, Options{})
	id := h.create(map[string]any{"firstName": "A", "phone": "+15550100001"})
	if err := h.sim.SetFaults(Faults{DropAfterApplyRate: 1}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		method, path string
		body         string
		wantOp       ChangeOp
	}{
		{name: "create", method: "POST", path: "/v1/crm/customers", body: `{"params":{"firstName":"B","phone":"+15550100002"}}`, wantOp: ChangeCreate},
		{name: "update", method: "PATCH", path: "/v1/crm/customers/" + id, body: `{"params":{"id":"` + id + `","firstName":"C"}}`, wantOp: ChangeUpdate},
		{name: "delete", method: "DELETE", path: "/v1/crm/customers/" + id, wantOp: ChangeDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			a, err := h.try(context.Background(), tt.method, tt.path, body, nil)
			if err == nil {
				t.Fatalf("got %d %s, want no answer", a.status, a.body)
			}
			changes := h.sim.Changes()
			if last := changes[len(changes)-1]; last.Op != tt.wantOp {
				t.Errorf("last change: got %s, want %s applied", last.Op, tt.wantOp)
			}
		})
	}
	if h.sim.Len() != 1 {
		t.Errorf("got %d customers, want 1 (B created, A deleted)", h.sim.Len())
	}
	// reads are never dropped
	if a := h.call("GET", "/v1/crm/customers", nil, nil); a.status != 200 {
		t.Errorf("list: got %d, want 200", a.status)
	}
}

// TestOutageRecover takes the simulator down and up on the same port.
func TestOutageRecover(t *testing.T) {
	h := start(t, Options{})
	url, addr := h.sim.URL(), h.sim.Addr()
	if a := h.call("GET", "/v1/crm/customers", nil, nil); a.status != 200 {
		t.Fatalf("before: got %d, want 200", a.status)
	}
	h.sim.Outage()
	_, err := h.try(context.Background(), "GET", "/v1/crm/customers", nil, nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("during the outage: got %v, want connection refused", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Errorf("during the outage: dial %s succeeded", addr)
	}
	if err := h.sim.Recover(); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if h.sim.URL() != url {
		t.Errorf("URL: got %s after recover, want %s", h.sim.URL(), url)
	}
	if a := h.call("GET", "/v1/crm/customers", nil, nil); a.status != 200 {
		t.Errorf("after: got %d, want 200", a.status)
	}
	if err := h.sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.Recover(); !errors.Is(err, ErrClosed) {
		t.Errorf("Recover after Close: got %v, want ErrClosed", err)
	}
}

// TestOutageCancelsRequests checks that an outage ends requests in
// progress.
func TestOutageCancelsRequests(t *testing.T) {
	h := start(t, Options{})
	if err := h.sim.SetFaults(Faults{Latency: time.Minute}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := h.try(context.Background(), "GET", "/v1/crm/customers", nil, nil)
		errc <- err
	}()
	eventually.True(t, 5*time.Second, "the request to arrive", func() bool { return h.sim.reqSeq.Load() == 1 })
	h.sim.Outage()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("got an answer, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request outlived the outage")
	}
}

// TestUnauthorizedFault checks that every request gets 401.
func TestUnauthorizedFault(t *testing.T) {
	h := start(t, Options{})
	if err := h.sim.SetFaults(Faults{Unauthorized: true}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/crm/customers", "/v1/crm/customers/export", "/nowhere"} {
		if a := h.call("GET", path, nil, nil); a.status != 401 || a.code() != "UNAUTHORIZED" {
			t.Errorf("%s: got %d %s, want 401", path, a.status, a.body)
		}
	}
	if err := h.sim.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	if a := h.call("GET", "/v1/crm/customers", nil, nil); a.status != 200 {
		t.Errorf("after clearing: got %d, want 200", a.status)
	}
}

// TestWarnings checks injected warnings in the envelope.
func TestWarnings(t *testing.T) {
	h := start(t, Options{})
	if err := h.sim.SetFaults(Faults{Warnings: []Warning{{Code: "DEPRECATED", Message: "use v2"}}}); err != nil {
		t.Fatal(err)
	}
	a := h.call("GET", "/v1/crm/customers", nil, nil)
	checkDoc(t, a, docValid)
	if w := a.envelope(t).Warnings; len(w) != 1 || w[0]["code"] != "DEPRECATED" {
		t.Errorf("warnings: got %v, want one DEPRECATED", w)
	}
}

// TestFaultsValidate checks that invalid faults are refused.
func TestFaultsValidate(t *testing.T) {
	h := start(t, Options{})
	for _, f := range []Faults{{ErrorRate: 2}, {RateLimitRate: -1}, {ErrorStatus: 200}, {Latency: -time.Second},
		{ForceError: map[Operation]ForcedError{OpGet: {Count: 1}}}} {
		if err := h.sim.SetFaults(f); err == nil {
			t.Errorf("%+v: got no error, want one", f)
		}
	}
}

// TestClockSkew checks that timestamps and Date follow the skewed clock.
func TestClockSkew(t *testing.T) {
	clk := newClock()
	h := start(t, Options{Now: clk.Now})
	h.sim.SetClockSkew(-90 * time.Second)
	id := h.create(map[string]any{"firstName": "A", "phone": "+15550100001"})
	c, _ := h.sim.Customer(id)
	want := clk.Now().Add(-90 * time.Second)
	if c.CreatedAt != want.Format(time.RFC3339) {
		t.Errorf("createdAt: got %s, want %s", c.CreatedAt, want.Format(time.RFC3339))
	}
	a := h.call("GET", "/v1/crm/customers", nil, nil)
	if got := a.header.Get("Date"); got != want.Format(http.TimeFormat) {
		t.Errorf("Date: got %s, want %s", got, want.Format(http.TimeFormat))
	}
	if h.sim.ClockSkew() != -90*time.Second {
		t.Errorf("ClockSkew: got %v", h.sim.ClockSkew())
	}
}
