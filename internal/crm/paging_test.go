package crm_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

var since = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

const sinceParam = "2026-11-27T10:00:00.000Z"

// pagedCRM is a fake export: records sorted by (updatedAt, id), pages of
// size records. Offsets are either keyset cursors ("updatedAt|id" of the
// last record of the page) or, with byIndex, positions in the sorted list,
// as a naive CRM would do. It records every request's query.
type pagedCRM struct {
	size    int
	byIndex bool
	// afterPage, if set, runs after the page for offset was served (under
	// the lock), to change the data between page requests.
	afterPage func(p *pagedCRM, offset string)

	mu      sync.Mutex
	records []map[string]any
	queries []string
}

func (p *pagedCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := r.URL.Query()
	p.queries = append(p.queries, r.URL.RawQuery)
	slices.SortFunc(p.records, func(a, b map[string]any) int {
		return strings.Compare(key(a), key(b))
	})
	offset := q.Get("offset")
	var rest []map[string]any
	for i, rec := range p.records {
		if rec["updatedAt"].(string) < q.Get("updatedSince") {
			continue
		}
		if p.byIndex {
			if n, _ := strconv.Atoi(offset); i >= n {
				rest = append(rest, rec)
			}
		} else if offset == "" || key(rec) > offset {
			rest = append(rest, rec)
		}
	}
	page := rest[:min(p.size, len(rest))]
	data := map[string]any{"items": page}
	if len(rest) > len(page) {
		if p.byIndex {
			n, _ := strconv.Atoi(offset)
			data["next"] = strconv.Itoa(n + len(page))
		} else {
			data["next"] = key(page[len(page)-1])
		}
	}
	writeJSON(w, 200, envelope(data))
	if p.afterPage != nil {
		p.afterPage(p, offset)
	}
}

func key(rec map[string]any) string { return rec["updatedAt"].(string) + "|" + rec["id"].(string) }

// collect ranges over the export and returns the ids of every record
// yielded, page by page, and the error that ended it.
func collect(t *testing.T, c *crm.Client, ctx context.Context) ([][]string, error) {
	t.Helper()
	var pages [][]string
	for page, err := range c.Export(ctx, since) {
		if err != nil {
			return pages, err
		}
		var ids []string
		for _, cu := range page.Items {
			ids = append(ids, cu.ID+"@"+cu.UpdatedAt[11:19])
		}
		pages = append(pages, ids)
	}
	return pages, nil
}

// TestExportTiesAcrossPages: five records share one updatedAt across two
// page boundaries; every record is yielded exactly once, and every request
// carries the same updatedSince, with offset = the previous page's next.
func TestExportTiesAcrossPages(t *testing.T) {
	fake := &pagedCRM{size: 3, records: []map[string]any{
		customer("c1", "2026-11-27T10:00:01.000Z"),
		customer("c2", "2026-11-27T10:00:02.000Z"), customer("c3", "2026-11-27T10:00:02.000Z"),
		customer("c4", "2026-11-27T10:00:02.000Z"), customer("c5", "2026-11-27T10:00:02.000Z"),
		customer("c6", "2026-11-27T10:00:02.000Z"),
		customer("c7", "2026-11-27T10:00:03.000Z"),
		customer("old", "2026-11-27T09:59:59.999Z"), // before since: not exported
	}}
	c := newClient(t, fake, setup{})
	pages, err := collect(t, c, ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"c1@10:00:01", "c2@10:00:02", "c3@10:00:02"},
		{"c4@10:00:02", "c5@10:00:02", "c6@10:00:02"},
		{"c7@10:00:03"},
	}
	if !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("got pages %v, want %v", pages, want)
	}
	wantOffsets := []string{"", "2026-11-27T10:00:02.000Z|c3", "2026-11-27T10:00:02.000Z|c6"}
	if len(fake.queries) != len(wantOffsets) {
		t.Fatalf("got %d requests, want %d", len(fake.queries), len(wantOffsets))
	}
	for i, raw := range fake.queries {
		q, err := url.ParseQuery(raw)
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("updatedSince") != sinceParam || q.Get("offset") != wantOffsets[i] {
			t.Errorf("request %d: got updatedSince %q offset %q, want %q %q",
				i, q.Get("updatedSince"), q.Get("offset"), sinceParam, wantOffsets[i])
		}
	}
}

// TestExportRecordMovesBetweenPages: a CRM that pages by position, and a
// record (r1) updated after its page was read. It moves to the end: the
// export yields it twice (old and new version), and the record that slid
// into the page already read (r3) is never yielded. The iterator yields
// what the CRM returns, no more, no less, and does not deduplicate: the
// poller must cope (compare with its snapshot; re-read an overlap).
func TestExportRecordMovesBetweenPages(t *testing.T) {
	fake := &pagedCRM{size: 2, byIndex: true, records: []map[string]any{
		customer("r1", "2026-11-27T10:00:01.000Z"), customer("r2", "2026-11-27T10:00:02.000Z"),
		customer("r3", "2026-11-27T10:00:03.000Z"), customer("r4", "2026-11-27T10:00:04.000Z"),
		customer("r5", "2026-11-27T10:00:05.000Z"), customer("r6", "2026-11-27T10:00:06.000Z"),
	}}
	fake.afterPage = func(p *pagedCRM, offset string) {
		if offset == "" {
			p.records[0]["updatedAt"] = "2026-11-27T10:00:09.000Z"
		}
	}
	c := newClient(t, fake, setup{})
	pages, err := collect(t, c, ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"r1@10:00:01", "r2@10:00:02"},
		{"r4@10:00:04", "r5@10:00:05"},
		{"r6@10:00:06", "r1@10:00:09"},
	}
	if !slices.EqualFunc(pages, want, slices.Equal) {
		t.Errorf("got pages %v, want %v", pages, want)
	}
}

// nextsCRM answers each offset with an empty page whose next is
// nexts[offset], counting the requests.
type nextsCRM struct {
	nexts map[string]string
	mu    sync.Mutex
	hits  int
}

func (n *nextsCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	n.hits++
	n.mu.Unlock()
	data := map[string]any{"items": []any{customer("c-"+r.URL.Query().Get("offset"), "2026-11-27T10:00:00.000Z")}}
	if next := n.nexts[r.URL.Query().Get("offset")]; next != "" {
		data["next"] = next
	}
	writeJSON(w, 200, envelope(data))
}

func (n *nextsCRM) requests() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hits
}

// TestExportRepeatedNext: a next already followed in this pass stops the
// export with ErrRepeatedNext after yielding the page that carried it.
func TestExportRepeatedNext(t *testing.T) {
	tests := []struct {
		name  string
		nexts map[string]string
		pages int
	}{
		{"A then A", map[string]string{"": "A", "A": "A"}, 2},
		{"A B A", map[string]string{"": "A", "A": "B", "B": "A"}, 3},
		{"A B C B", map[string]string{"": "A", "A": "B", "B": "C", "C": "B"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &nextsCRM{nexts: tt.nexts}
			c := newClient(t, fake, setup{})
			pages, err := collect(t, c, ctx(t))
			if !errors.Is(err, crm.ErrRepeatedNext) || !errors.Is(err, crm.ErrBadResponse) {
				t.Fatalf("got %v, want ErrRepeatedNext", err)
			}
			if crm.Classify(err) != crm.Transient {
				t.Errorf("got class %v, want transient", crm.Classify(err))
			}
			if len(pages) != tt.pages || fake.requests() != tt.pages {
				t.Errorf("got %d pages from %d requests, want %d", len(pages), fake.requests(), tt.pages)
			}
		})
	}
}

// TestExportStops: the export ends without further requests when the
// consumer breaks out, and with the context's error when the caller
// cancels, between pages or during one.
func TestExportStops(t *testing.T) {
	tests := []struct {
		name     string
		run      func(t *testing.T, c *crm.Client, hit <-chan struct{}) error
		requests int
		want     error // nil: no error
	}{
		{
			name: "break",
			run: func(t *testing.T, c *crm.Client, _ <-chan struct{}) error {
				for _, err := range c.Export(ctx(t), since) {
					if err != nil {
						return err
					}
					break
				}
				return nil
			},
			requests: 1,
		},
		{
			name: "cancel between pages",
			run: func(t *testing.T, c *crm.Client, _ <-chan struct{}) error {
				cctx, cancel := context.WithCancel(ctx(t))
				defer cancel()
				for _, err := range c.Export(cctx, since) {
					if err != nil {
						return err
					}
					cancel()
				}
				return nil
			},
			requests: 1, want: context.Canceled,
		},
		{
			name: "cancel during a page",
			run: func(t *testing.T, c *crm.Client, hit <-chan struct{}) error {
				cctx, cancel := context.WithCancel(ctx(t))
				defer cancel()
				go func() {
					<-hit
					cancel()
				}()
				n := 0
				for _, err := range c.Export(cctx, since) {
					if err != nil {
						return err
					}
					if n++; n > 1 {
						t.Error("got a second page, want the export cancelled during it")
					}
				}
				return nil
			},
			requests: 2, want: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hit := make(chan struct{}, 1)
			var mu sync.Mutex
			requests := 0
			c := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				requests++
				mu.Unlock()
				if r.URL.Query().Get("offset") == "" {
					writeJSON(w, 200, envelope(map[string]any{"items": []any{}, "next": "p2"}))
					return
				}
				hit <- struct{}{}
				<-r.Context().Done()
			}), setup{})
			start := time.Now()
			err := tt.run(t, c, hit)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && crm.Classify(err) != crm.Canceled {
				t.Errorf("got class %v, want canceled", crm.Classify(err))
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s, want the export to stop promptly", d)
			}
			mu.Lock()
			defer mu.Unlock()
			if requests != tt.requests {
				t.Errorf("got %d requests, want %d", requests, tt.requests)
			}
		})
	}
}

// TestExportOversized: a page over MaxResponseBytes, endless or announced,
// ends the export with ErrBadResponse instead of being read into memory.
func TestExportOversized(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"data":{"items":[`)
			rec := `{"id":"x","firstName":"A","phone":"1","phoneCountry":"US","phoneCountryCalling":"1","number":"1"},`
			chunk := strings.Repeat(rec, 100)
			for r.Context().Err() == nil {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}},
		{"announced length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(1<<30))
			_, _ = io.WriteString(w, `{"data":{"items":[`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.handler, setup{badResponses: true, cfg: func(c *crm.Config) { c.MaxResponseBytes = 4 << 10 }})
			pages, err := collect(t, c, ctx(t))
			if !errors.Is(err, crm.ErrBadResponse) || len(pages) != 0 {
				t.Fatalf("got %d pages and %v, want none and ErrBadResponse", len(pages), err)
			}
		})
	}
}

// flakyCRM serves two pages ("" and "p2"), answering each request for a
// page with the next status of its script first (503, 429 with
// Retry-After: 1, 400) and then with the page. It records each request's
// offset and time.
type flakyCRM struct {
	mu     sync.Mutex
	script map[string][]int
	asked  []string
	at     []time.Time
}

func (f *flakyCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	offset := q.Get("offset")
	f.asked = append(f.asked, offset+"|"+q.Get("updatedSince"))
	f.at = append(f.at, time.Now())
	if s := f.script[offset]; len(s) > 0 {
		f.script[offset] = s[1:]
		switch s[0] {
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, s[0], map[string]any{"success": false, "error": map[string]any{"code": "RATE_LIMITED", "message": "slow down"}})
		case http.StatusBadRequest:
			writeJSON(w, s[0], map[string]any{"success": false, "error": map[string]any{"code": "VALIDATION", "message": "no"}})
		default:
			w.WriteHeader(s[0])
		}
		return
	}
	data := map[string]any{"items": []any{customer("cus_"+cmp.Or(offset, "p1"), "2026-11-27T10:00:01.000Z")}}
	if offset == "" {
		data["next"] = "p2"
	}
	writeJSON(w, 200, envelope(data))
}

// TestExportAsksAgainForAFailedPage: a page that fails with 503 or 429 is
// asked for again, with the same updatedSince and offset, after backoff
// and never before its Retry-After, up to PageRetries times; a 400 is
// not asked again; PageRetries -1 asks nothing again.
func TestExportAsksAgainForAFailedPage(t *testing.T) {
	tests := []struct {
		name    string
		retries int
		script  []int // of page p2
		asked   int   // requests for p2
		fails   bool
	}{
		{"503 then 429, then the page", 0, []int{503, 429}, 3, false},
		{"503 more often than PageRetries", 2, []int{503, 503, 503, 503}, 3, true},
		{"400 is not asked again", 0, []int{400}, 1, true},
		{"no retries", -1, []int{503}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &flakyCRM{script: map[string][]int{"p2": tt.script}}
			c := newClient(t, f, setup{badResponses: true, cfg: func(c *crm.Config) { c.PageRetries = tt.retries }})
			pages, err := collect(t, c, ctx(t))
			if tt.fails != (err != nil) {
				t.Fatalf("got pages %v and error %v; want an error: %v", pages, err, tt.fails)
			}
			if !tt.fails && len(pages) != 2 {
				t.Errorf("got pages %v, want both", pages)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if n := len(f.asked) - 1; n != tt.asked {
				t.Errorf("page p2 asked %d times (%v), want %d", n, f.asked, tt.asked)
			}
			for _, a := range f.asked[1:] {
				if a != "p2|"+sinceParam {
					t.Errorf("asked %q, want offset p2 and the same updatedSince", a)
				}
			}
			for i := 1; i < len(f.at); i++ {
				if i >= 2 && tt.script[i-2] == 429 && f.at[i].Sub(f.at[i-1]) < time.Second {
					t.Errorf("asked again %v after a 429 with Retry-After: 1", f.at[i].Sub(f.at[i-1]))
				}
			}
		})
	}
}
