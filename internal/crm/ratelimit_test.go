package crm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterHalvesAndRecovers(t *testing.T) {
	l := newLimiter(100)
	l.throttled()
	if got := l.current(); got != 50 {
		t.Fatalf("after a 429: got %v/s, want 50/s", got)
	}
	l.throttled() // within the same second: no second halving
	if got := l.current(); got != 50 {
		t.Errorf("after a second 429 within a second: got %v/s, want 50/s", got)
	}
	l.changed = l.changed.Add(-2 * time.Second)
	l.answered()
	if got := l.current(); got < 69 || got > 71 {
		t.Errorf("2 s after: got %v/s, want about 70/s (a tenth of the maximum per second)", got)
	}
	l.changed = l.changed.Add(-time.Minute)
	l.answered()
	if got := l.current(); got != 100 {
		t.Errorf("a minute after: got %v/s, want the maximum, 100/s", got)
	}
	for range 20 {
		l.changed = l.changed.Add(-2 * time.Second)
		l.throttled()
	}
	if got := l.current(); got != minRate {
		t.Errorf("after many 429s: got %v/s, want the floor %v/s", got, minRate)
	}
	if newLimiter(0) != nil {
		t.Error("rate 0 must mean no limiter")
	}
}

// clientAfter429 returns a client with the rate budget rate of a server
// that answers its first request 429 (Retry-After: 1) and every other one
// with success; both end with the test.
func clientAfter429(t *testing.T, rate float64) *Client {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"app":"a","service":"s","warnings":[],"instanceId":"i","requestId":"r","data":{"succeed":true}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, APIKey: "k", OrgID: "o", Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// A 429 lowers the rate for every request of the client, not just the
// one that got it.
func TestClientRateLimit(t *testing.T) {
	c := clientAfter429(t, 40)
	ctx := context.Background()
	if err := c.Delete(ctx, "a"); Classify(err) != Transient {
		t.Fatalf("first request: got %v, want a transient 429", err)
	}
	if got := c.limit.current(); got != 20 {
		t.Errorf("after a 429: got %v/s, want 20/s", got)
	}
	start := time.Now()
	for range 6 {
		if err := c.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	// 6 requests at 20/s with a burst of 4: at least 2 waits of 50 ms.
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("6 requests took %v, want the lowered rate to space them", d)
	}
}

// The budget is divided among the live processes, the burst with it.
func TestLimiterShare(t *testing.T) {
	tests := []struct {
		name      string
		budget    float64
		procs     []int // successive calls of setProcesses
		wantShare float64
		wantBurst int
	}{
		{"one process", 50, nil, 50, 5},
		{"three processes", 60, []int{3}, 20, 2},
		{"a share under 10/s bursts 1", 50, []int{6}, 50.0 / 6, 1},
		{"a share under 1/s", 2, []int{3}, 2.0 / 3, 1},
		{"zero processes count as one", 50, []int{0}, 50, 5},
		{"one of three gone", 60, []int{3, 2}, 30, 3},
		{"all back to one", 60, []int{3, 2, 1}, 60, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(tt.budget)
			for _, n := range tt.procs {
				l.setProcesses(n)
			}
			if got := l.share(); !near(got, tt.wantShare) {
				t.Errorf("share: got %v/s, want %v/s", got, tt.wantShare)
			}
			if got := l.current(); !near(got, tt.wantShare) {
				t.Errorf("rate in force: got %v/s, want %v/s", got, tt.wantShare)
			}
			if got := float64(l.lim.Limit()); !near(got, tt.wantShare) {
				t.Errorf("token bucket rate: got %v/s, want %v/s", got, tt.wantShare)
			}
			if got := l.lim.Burst(); got != tt.wantBurst {
				t.Errorf("burst: got %d, want %d", got, tt.wantBurst)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// A rate lowered by a 429 stays lowered by the same fraction when the share
// changes, recovers towards the new share, and halves from it again.
func TestLimiterShareAndThrottling(t *testing.T) {
	l := newLimiter(90)
	l.setProcesses(3) // 30/s
	l.throttled()
	if got := l.current(); got != 15 {
		t.Fatalf("after a 429: got %v/s, want 15/s", got)
	}
	if share, changed := l.setProcesses(3); changed || share != 30 {
		t.Errorf("same count again: got %v/s changed %v, want 30/s unchanged", share, changed)
	}
	if got := l.current(); got != 15 {
		t.Errorf("same count again: rate in force got %v/s, want 15/s", got)
	}
	if share, changed := l.setProcesses(2); !changed || share != 45 {
		t.Errorf("one gone: got %v/s changed %v, want 45/s changed", share, changed)
	}
	if got := l.current(); got != 22.5 {
		t.Errorf("one gone, after a 429: got %v/s, want half the new share, 22.5/s", got)
	}
	l.changed = l.changed.Add(-time.Minute)
	l.answered()
	if got := l.current(); got != 45 {
		t.Errorf("a minute later: got %v/s, want the share, 45/s", got)
	}
	l.setProcesses(90) // 1/s
	for range 5 {
		l.changed = l.changed.Add(-2 * time.Second)
		l.throttled()
	}
	if got := l.current(); got != minRate {
		t.Errorf("a 1/s share after 429s: got %v/s, want the floor %v/s", got, minRate)
	}
	l.setProcesses(180) // 0.5/s: the floor is the share
	l.changed = l.changed.Add(-2 * time.Second)
	l.throttled()
	if got := l.current(); got != 0.5 {
		t.Errorf("a 0.5/s share after a 429: got %v/s, want the share 0.5/s as the floor", got)
	}
	var none *limiter
	if share, changed := none.setProcesses(3); share != 0 || changed {
		t.Errorf("no limit: got %v/s changed %v, want 0 unchanged", share, changed)
	}
}

// The client's share shows in RateShare and in an info log line when it
// changes; without a rate there is no share and no log.
func TestClientSetProcesses(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		procs     []int
		wantShare float64
		wantLogs  int
	}{
		{"no limit", 0, []int{3, 2}, 0, 0},
		{"three, then two", 60, []int{3, 3, 2}, 30, 2},
		{"alone", 60, []int{1}, 60, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			c, err := New(Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", OrgID: "o", Rate: tt.rate,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.procs {
				c.SetProcesses(n)
			}
			if got := c.RateShare(); got != tt.wantShare {
				t.Errorf("RateShare: got %v, want %v", got, tt.wantShare)
			}
			if got := strings.Count(logs.String(), `"msg":"CRM rate share changed"`); got != tt.wantLogs {
				t.Errorf("got %d log lines, want %d:\n%s", got, tt.wantLogs, logs.String())
			}
			if tt.wantLogs > 0 && !strings.Contains(logs.String(), `"level":"INFO","msg":"CRM rate share changed","budget":60,"processes":2,"share":30`) {
				t.Errorf("last share change not logged with budget, processes and share:\n%s", logs.String())
			}
		})
	}
}

// A 429 halves the process's share, not the deployment's budget.
func TestClientRateLimitOnShare(t *testing.T) {
	c := clientAfter429(t, 120)
	c.SetProcesses(3)
	if err := c.Delete(context.Background(), "a"); Classify(err) != Transient {
		t.Fatalf("first request: got %v, want a transient 429", err)
	}
	if got := c.limit.current(); got != 20 {
		t.Errorf("after a 429: got %v/s, want half the share of 40/s, 20/s", got)
	}
	if got := c.RateShare(); got != 40 {
		t.Errorf("share after a 429: got %v/s, want 40/s", got)
	}
}
