package commands

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// lookupCRM is a CRM whose first create's answer is lost (503) and whose
// later creates are refused DUPLICATE_PHONE; its export answers the first
// failExports lookups with status, then with the customer the first
// create made.
func lookupCRM(t *testing.T, status int, failExports int64) (url string, exports *atomic.Int64) {
	t.Helper()
	var creates atomic.Int64
	exports = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			if creates.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"DUPLICATE_PHONE"}}`)
			return
		}
		if exports.Add(1) <= failExports {
			w.WriteHeader(status)
			return
		}
		fmt.Fprint(w, `{"app":"crm","service":"s","instanceId":"i","requestId":"r","warnings":[],"data":{"items":[
			{"id":"cus_made","firstName":"Ada","phone":"5550100","phoneCountry":"US","phoneCountryCalling":"1","number":"1"}],"next":""}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, exports
}

// The lookup after a DUPLICATE_PHONE that follows a lost answer is retried
// like any transient fault, whatever its export answered: the command is
// not at fault for it. Before, an export answer that Classify calls
// Permanent (a 4xx without a functional code, from a gateway or a proxy)
// went to the applier's `case crm.Permanent` and ended the command failed
// at once, long before BRIDGE_RETRY_MAX_ELAPSED.
func TestLookupFailureRetried(t *testing.T) {
	cfg := Config{Prefix: "crm", Concurrency: 1, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	create := Command{Op: "create", Create: crm.CreateParams{FirstName: "Ada", Phone: "5550100"}}
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadRequest,
		http.StatusConflict, http.StatusMethodNotAllowed, http.StatusFound} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			url, exports := lookupCRM(t, status, 2)
			out := applyOnce(t, url, cfg, create, delivery{published: time.Now()})
			if out.status != StatusApplied || out.customerID != "cus_made" {
				t.Errorf("got %+v (error %+v), want applied cus_made", out, out.err)
			}
			if got := exports.Load(); got != 3 {
				t.Errorf("got %d lookups, want 3", got)
			}
		})
	}
}

// A lookup that keeps failing ends the command failed only once
// RetryMaxElapsed is spent, having retried meanwhile.
func TestLookupFailingForGoodFailsAfterRetryMaxElapsed(t *testing.T) {
	cfg := Config{Prefix: "crm", Concurrency: 1, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		RetryMaxElapsed: 200 * time.Millisecond}
	url, exports := lookupCRM(t, http.StatusBadRequest, 1<<40)
	start := time.Now()
	out := applyOnce(t, url, cfg, Command{Op: "create", Create: crm.CreateParams{FirstName: "Ada", Phone: "5550100"}}, delivery{published: time.Now()})
	if out.status != StatusFailed || out.err == nil || out.err.Code != "CRM_HTTP_400" {
		t.Fatalf("got %+v (error %+v), want failed CRM_HTTP_400", out, out.err)
	}
	if got := exports.Load(); got < 3 {
		t.Errorf("got %d lookups, want the lookup retried", got)
	}
	if took := time.Since(start); took < cfg.RetryMaxElapsed/2 {
		t.Errorf("failed after %s, want about RetryMaxElapsed (%s)", took, cfg.RetryMaxElapsed)
	}
}
