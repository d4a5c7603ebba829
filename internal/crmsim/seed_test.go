package crmsim

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/eventually"
)

// TestSeed checks that seeded customers are valid, unique in id and phone,
// and the same for the same seed.
func TestSeed(t *testing.T) {
	seeded := func(seed uint64) []crm.Customer {
		t.Helper()
		sim, err := New(Options{RandSeed: seed, Now: newClock().Now})
		if err != nil {
			t.Fatal(err)
		}
		sim.Seed(2000)
		if sim.Len() != 2000 || len(sim.Changes()) != 0 {
			t.Fatalf("got %d customers and %d changes, want 2000 and 0", sim.Len(), len(sim.Changes()))
		}
		return sim.Customers()
	}
	a, b, other := seeded(1), seeded(1), seeded(2)
	raw := func(cs []crm.Customer) []string {
		var out []string
		for _, c := range cs {
			out = append(out, string(c.Raw))
		}
		return out
	}
	if !slices.Equal(raw(a), raw(b)) {
		t.Error("same seed, different customers")
	}
	if a[0].ID == other[0].ID {
		t.Error("different seeds, same first id")
	}
	phones := map[string]bool{}
	for _, c := range a {
		if phones[c.Phone] {
			t.Errorf("phone %s seeded twice", c.Phone)
		}
		phones[c.Phone] = true
	}

	h := start(t, Options{PageSize: 500})
	h.sim.Seed(1200)
	if got := h.exportAll("", nil); len(got) != 1200 { // every record validated by the harness
		t.Errorf("export: got %d, want 1200", len(got))
	}
}

// TestConcurrentCreatesAndExport creates customers from many goroutines
// while others page through the export (run with -race).
func TestConcurrentCreatesAndExport(t *testing.T) {
	sim, err := New(Options{PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const writers, each = 8, 25
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	send := func(method, path, body string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, stringsReader(body))
		req.Header.Set("api-key", "k")
		req.Header.Set("organization-id", "o")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+4)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				st, err := send("POST", "/v1/crm/customers", fmt.Sprintf(`{"params":{"firstName":"A","phone":"+1555%03d%04d"}}`, w, i))
				if err != nil || st != 200 {
					errs <- fmt.Errorf("create: %d %v", st, err)
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if st, err := send("GET", "/v1/crm/customers/export?updatedSince="+url.QueryEscape("2000-01-01T00:00:00Z"), ""); err != nil || st != 200 {
					errs <- fmt.Errorf("export: %d %v", st, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if sim.Len() != writers*each || len(sim.Changes()) != writers*each {
		t.Errorf("got %d customers, %d changes; want %d", sim.Len(), len(sim.Changes()), writers*each)
	}
}

// TestChurn runs the churn loop until it has made some changes.
func TestChurn(t *testing.T) {
	sim, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sim.Seed(100)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- sim.Churn(ctx, time.Millisecond, 5) }()
	eventually.True(t, 10*time.Second, "20 churned changes", func() bool { return len(sim.Changes()) >= 20 })
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Churn: %v", err)
	}
	kinds := map[ChangeOp]bool{}
	for _, c := range sim.Changes() {
		kinds[c.Op] = true
		if c.Via != "ui" {
			t.Errorf("change %+v: want via ui", c)
		}
	}
	if !kinds[ChangeUpdate] {
		t.Errorf("kinds: got %v, want updates among them", kinds)
	}
	if err := sim.Churn(context.Background(), 0, 1); err == nil {
		t.Error("Churn with interval 0: got no error")
	}
}

// TestFlags parses every flag into Options and Faults.
func TestFlags(t *testing.T) {
	var o Options
	var f Faults
	fs := flag.NewFlagSet("crmsim", flag.ContinueOnError)
	o.RegisterFlags(fs)
	f.RegisterFlags(fs)
	if o.PageSize != 100 || f.ErrorStatus != 503 || f.RetryAfter != time.Second {
		t.Errorf("defaults: got page size %d, error status %d, retry-after %v", o.PageSize, f.ErrorStatus, f.RetryAfter)
	}
	err := fs.Parse([]string{"--api-key=K", "--org-id=O", "--seed-customers=5", "--page-size=7", "--paging=offset",
		"--delete-mode=archive", "--clock-skew=-90s", "--timestamp-precision=1ms", "--churn-interval=2s", "--churn-per-tick=3",
		"--error-rate=0.1", "--error-status=500", "--rate-limit-rate=0.2", "--retry-after=3s", "--retry-after-http-date",
		"--latency=10ms", "--drop-after-apply-rate=0.3", "--not-found-as-400", "--rand-seed=9"})
	if err != nil {
		t.Fatal(err)
	}
	want := Options{APIKey: "K", OrgID: "O", SeedCustomers: 5, PageSize: 7, Paging: PagingOffset, DeleteMode: DeleteArchive,
		ClockSkew: -90 * time.Second, TimestampPrecision: time.Millisecond, ChurnInterval: 2 * time.Second, ChurnPerTick: 3,
		NotFoundAs400: true, RandSeed: 9, MaxBodyBytes: 1 << 20}
	if fmt.Sprintf("%+v", o) != fmt.Sprintf("%+v", want) {
		t.Errorf("options:\ngot  %+v\nwant %+v", o, want)
	}
	wantF := Faults{ErrorRate: 0.1, ErrorStatus: 500, RateLimitRate: 0.2, RetryAfter: 3 * time.Second, RetryAfterHTTPDate: true,
		Latency: 10 * time.Millisecond, DropAfterApplyRate: 0.3}
	if fmt.Sprintf("%+v", f) != fmt.Sprintf("%+v", wantF) {
		t.Errorf("faults:\ngot  %+v\nwant %+v", f, wantF)
	}
	if err := fs.Parse([]string{"--paging=sideways"}); err == nil {
		t.Error("--paging=sideways: got no error")
	}
	if _, err := New(Options{PageSize: -1, TimestampPrecision: -1}); err == nil {
		t.Error("New with invalid options: got no error")
	}
}
