package crmsim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"
	"time"
)

// BenchmarkSeed seeds a million customers per iteration.
func BenchmarkSeed(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		sim, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		sim.Seed(n)
		if sim.Len() != n {
			b.Fatalf("got %d customers", sim.Len())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/customer")
}

// BenchmarkExportPage serves one export page (100 records, through the
// whole handler: validation included) over a million customers, from the
// middle of the export.
func BenchmarkExportPage(b *testing.B) {
	clk := newClock()
	sim, err := New(Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	sim.Seed(1_000_000)
	runtime.GC() // not the seed's garbage in the first figures
	mid := clk.Now().Add(-500_000 * time.Second).Format(time.RFC3339)
	for _, bc := range []struct {
		name  string
		query string
	}{
		{name: "keyset/first", query: "?updatedSince=" + mid},
		{name: "keyset/next", query: "?updatedSince=" + mid + "&offset=" + keysetTokenAt(b, sim, mid)},
		{name: "offset/500k", query: "?offset=" + pageToken{kind: 'o', pos: 500_000}.String()},
	} {
		b.Run("http/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", "/v1/crm/customers/export"+bc.query, nil)
				req.Header.Set("api-key", "k")
				req.Header.Set("organization-id", "o")
				rec := httptest.NewRecorder()
				sim.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("got %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkExportStore reads one export page (100 records) from the store
// over a million customers: the index seek and the page, without HTTP,
// validation and JSON.
func BenchmarkExportStore(b *testing.B) {
	clk := newClock()
	sim, err := New(Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	sim.Seed(1_000_000)
	since, _ := parseSince(clk.Now().Add(-500_000 * time.Second).Format(time.RFC3339))
	_, next := sim.store.exportPage(since, nil, 100, PagingKeyset)
	tok, err := parseToken(next, "k")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		items, _ := sim.store.exportPage(since, &tok, 100, PagingKeyset)
		if len(items) != 100 {
			b.Fatalf("got %d items", len(items))
		}
	}
}

// keysetTokenAt returns the next token of the first page from since.
func keysetTokenAt(b *testing.B, sim *Simulator, since string) string {
	b.Helper()
	ns, err := parseSince(since)
	if err != nil {
		b.Fatal(err)
	}
	_, next := sim.store.exportPage(ns, nil, 100, PagingKeyset)
	return url.QueryEscape(next)
}
