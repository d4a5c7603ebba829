package crm

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
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

// A 429 lowers the rate for every request of the client, not just the
// one that got it.
func TestClientRateLimit(t *testing.T) {
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
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, APIKey: "k", OrgID: "o", Rate: 40})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
