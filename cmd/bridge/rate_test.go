package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/proctest"
)

// Issue 11, part 9: BRIDGE_CRM_RATE is the budget of the whole deployment.
// Three bridge processes share it while they apply a load of creates; the
// CRM never sees more than the budget (plus the processes' bursts and a
// margin for the way between them); one is killed with SIGKILL and the two
// left take over its share once its membership has expired, as their
// metrics and logs say.
func TestCRMRateIsTheDeploymentsBudget(t *testing.T) {
	const (
		budget = 30.0
		procs  = 3
		load   = 700
		window = 2 * time.Second
	)
	w := newWorld(t)
	rec := &arrivals{next: w.sim}
	front := httptest.NewServer(rec)
	t.Cleanup(front.Close)
	env := w.env()
	env["BRIDGE_CRM_URL"] = front.URL
	env["BRIDGE_CRM_RATE"] = strconv.FormatFloat(budget, 'g', -1, 64)
	env["BRIDGE_POLL_INTERVAL"] = "1s" // the poller's pages count too
	var ps []*bridgeProc
	var addrs []string
	for range procs {
		p := startBridge(t, env)
		ps, addrs = append(ps, p), append(addrs, p.logValue(t, "http listening", "addr"))
	}
	w.waitConsumers()
	// A process that starts counts itself and those already there; the
	// others count it at their next renewal. Measure from when all agree.
	waitShares(t, addrs, budget/procs)
	from := time.Now()
	for i := range load {
		w.publishAsync(w.subj.Create(), fmt.Sprintf("c-%d", i), fmt.Appendf(nil, `{"firstName":"R%d","phone":"555%07d"}`, i, i))
	}
	w.waitPublished()
	eventually.True(t, time.Minute, "no progress before the kill", func() bool { return w.resultCount() >= load/5 })
	ps[0].Kill()
	if n := w.resultCount(); n >= load {
		t.Fatalf("all %d commands were done before the kill; nothing was shown", n)
	}
	// The killed process's membership expires after the lease TTL (20 s
	// by default); the two left then take half of the budget each. Were its
	// share lost, they would stay at a third.
	waitShares(t, addrs[1:], budget/(procs-1))
	for i, p := range ps[1:] {
		if !loggedShare(p.logs(), budget, procs-1, budget/(procs-1)) {
			t.Errorf("process %d did not log its new share at info", i+1)
		}
	}
	eventually.True(t, time.Minute, "not every create got a result", func() bool { return w.resultCount() >= load })
	// Each process's token bucket lets through at most share×window plus
	// its burst (1 here) in any window; the way from the processes to the
	// CRM (a busy machine) may bunch them up by half a second's worth more.
	// Each process on its own at the budget would be three times that.
	limit := budget*window.Seconds() + procs + budget/2
	got, at := rec.busiest(from, window)
	if float64(got) > limit {
		t.Errorf("the CRM got %d requests in the %v from %v, want at most %.0f (a budget of %v/s)", got, window, at.Sub(from).Round(time.Millisecond), limit, budget)
	}
	t.Logf("busiest %v: %d requests (limit %.0f); %d requests in %v", window, got, limit, rec.count(from), time.Since(from).Round(time.Millisecond))
}

// arrivals records when each request reached the CRM, then passes it on.
type arrivals struct {
	next http.Handler
	mu   sync.Mutex
	at   []time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
	a.next.ServeHTTP(w, r)
}

// busiest returns the most requests that arrived within d of each other,
// from from on, and when that window began.
func (a *arrivals) busiest(from time.Time, d time.Duration) (int, time.Time) {
	a.mu.Lock()
	at := slices.Clone(a.at)
	a.mu.Unlock()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	at = at[slices.IndexFunc(at, func(t time.Time) bool { return !t.Before(from) }):]
	most, start, j := 0, from, 0
	for i := range at {
		for j < len(at) && at[j].Sub(at[i]) < d {
			j++
		}
		if j-i > most {
			most, start = j-i, at[i]
		}
	}
	return most, start
}

func (a *arrivals) count(from time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at) - slices.IndexFunc(a.at, func(t time.Time) bool { return !t.Before(from) })
}

// logValue waits for a JSON log line with msg and returns its attribute key.
func (p *bridgeProc) logValue(t *testing.T, msg, key string) string {
	t.Helper()
	return proctest.WaitLogValue(t, p.Stderr, msg, key)
}

// loggedShare says whether logs hold the info line of a change of the
// CRM rate's share to share, of budget among procs processes.
func loggedShare(logs string, budget float64, procs int, share float64) bool {
	for line := range strings.Lines(logs) {
		var m struct {
			Level, Msg, Component    string
			Budget, Processes, Share float64
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Level == "INFO" && m.Msg == "CRM rate share changed" &&
			m.Component == "crm" && m.Budget == budget && m.Processes == float64(procs) && m.Share == share {
			return true
		}
	}
	return false
}

// waitShares waits until every process at addrs reports want as its share
// of the CRM's rate on /metrics. It fails the test, but goes on, if they
// never do: the requests' rate is the test's other half.
func waitShares(t *testing.T, addrs []string, want float64) {
	t.Helper()
	got := make([]float64, len(addrs))
	ok := eventually.Within(40*time.Second, func() bool {
		for i, addr := range addrs {
			got[i] = rateShare(addr)
		}
		return !slices.ContainsFunc(got, func(s float64) bool { return s < want-1e-6 || s > want+1e-6 })
	})
	if !ok {
		t.Errorf("shares of the CRM rate: got %v, want %v each", got, want)
	}
}

// rateShare reads crm_bridge_crm_rate_share from addr's /metrics; -1 when
// it cannot.
func rateShare(addr string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "crm_bridge_crm_rate_share "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}
