package crmsim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

// exportAll pages through the export from since, calling between after each
// page, and returns the ids in the order received.
func (h *harness) exportAll(since string, between func(page int)) []string {
	h.t.Helper()
	var ids []string
	offset := ""
	for n := 0; ; n++ {
		q := "?updatedSince=" + url.QueryEscape(since)
		if offset != "" {
			q += "&offset=" + url.QueryEscape(offset)
		}
		p := h.export(q)
		for _, it := range p.Items {
			ids = append(ids, it["id"].(string))
		}
		if p.Next == nil {
			return ids
		}
		if *p.Next == "" {
			h.t.Fatalf("page %d: next is empty instead of absent", n)
		}
		offset = *p.Next
		if between != nil {
			between(n)
		}
		if n > 10_000 {
			h.t.Fatal("export does not end")
		}
	}
}

// TestExportOrder checks the order (updatedAt, then id, ties included),
// that updatedSince is inclusive and takes fractional seconds, and paging.
func TestExportOrder(t *testing.T) {
	clk := newClock()
	h := start(t, Options{Now: clk.Now, PageSize: 2, TimestampPrecision: time.Millisecond})
	var want []string
	t0 := clk.Now()
	for i := range 7 {
		if i%3 == 0 {
			clk.Advance(1500 * time.Millisecond) // groups of three share updatedAt
		}
		c, err := h.sim.CreateCustomer(crm.CreateParams{FirstName: "A", Phone: fmt.Sprintf("+1555010%04d", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, c.ID)
	}
	// expected: by updatedAt, then id
	slices.SortStableFunc(want, func(a, b string) int {
		ca, _ := h.sim.Customer(a)
		cb, _ := h.sim.Customer(b)
		if ca.UpdatedAt != cb.UpdatedAt {
			ta, _ := time.Parse(time.RFC3339, ca.UpdatedAt)
			tb, _ := time.Parse(time.RFC3339, cb.UpdatedAt)
			return ta.Compare(tb)
		}
		if a < b {
			return -1
		}
		return 1
	})

	tests := []struct {
		name  string
		since string
		want  []string
	}{
		{name: "everything", since: "", want: want},
		{name: "before all", since: t0.Format(time.RFC3339), want: want},
		{name: "inclusive, fractional", since: t0.Add(3000 * time.Millisecond).Format(time.RFC3339Nano), want: want[3:]},
		{name: "inclusive, other offset", since: t0.Add(4500 * time.Millisecond).In(time.FixedZone("X", 2*3600)).Format(time.RFC3339Nano), want: want[6:]},
		{name: "just after", since: t0.Add(4501 * time.Millisecond).Format(time.RFC3339Nano), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.exportAll(tt.since, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if got := h.export("").Items; len(got) != 2 {
		t.Errorf("page size: got %d items, want 2", len(got))
	}
	h.sim.SetPageSize(5)
	if got := h.export("").Items; len(got) != 5 {
		t.Errorf("page size at run time: got %d items, want 5", len(got))
	}
}

// TestExportMovedRecord moves a record already returned to the end while a
// client pages: offset paging makes the client skip one, keyset does not.
func TestExportMovedRecord(t *testing.T) {
	tests := []struct {
		name     string
		paging   Paging
		wantSeen int // distinct customers the client saw, of 6
	}{
		{name: "keyset", paging: PagingKeyset, wantSeen: 6},
		{name: "offset", paging: PagingOffset, wantSeen: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			h := start(t, Options{Now: clk.Now, PageSize: 2, Paging: tt.paging})
			var first string
			for i := range 6 {
				clk.Advance(time.Second)
				c, err := h.sim.CreateCustomer(crm.CreateParams{FirstName: "A", Phone: fmt.Sprintf("+1555010%04d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = c.ID
				}
			}
			got := h.exportAll("", func(page int) {
				if page == 0 {
					clk.Advance(time.Second)
					if _, err := h.sim.Touch(first); err != nil {
						t.Fatal(err)
					}
				}
			})
			seen := map[string]bool{}
			for _, id := range got {
				seen[id] = true
			}
			if len(seen) != tt.wantSeen {
				t.Errorf("got %d distinct customers (%v), want %d", len(seen), got, tt.wantSeen)
			}
			if got[len(got)-1] != first {
				t.Errorf("last: got %s, want the moved %s", got[len(got)-1], first)
			}
		})
	}
}

// TestList pages the list in id order through its (undocumented) offset.
func TestList(t *testing.T) {
	h := start(t, Options{PageSize: 3})
	h.sim.Seed(10)
	var got []string
	offset := ""
	for range 10 {
		a := h.call("GET", "/v1/crm/customers?offset="+url.QueryEscape(offset), nil, nil)
		checkDoc(t, a, docValid)
		var p page
		if err := json.Unmarshal(a.envelope(t).Data, &p); err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Users {
			got = append(got, u["id"].(string))
		}
		if p.Next == nil {
			break
		}
		offset = *p.Next
	}
	var want []string
	for _, c := range h.sim.Customers() {
		want = append(want, c.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestTokens checks that tokens round-trip and that others are refused.
func TestTokens(t *testing.T) {
	for _, tok := range []pageToken{{kind: 'k', at: -5, id: "cus_x.y"}, {kind: 'o', pos: 42}, {kind: 'c', at: 7, id: "cus_z"}} {
		got, err := parseToken(tok.String(), "koc")
		if err != nil || got != tok {
			t.Errorf("round trip %+v: got %+v, %v", tok, got, err)
		}
	}
	for _, bad := range []string{"", "!!", "eA", "aw", "azEy", "b1", "b3g", "by0x"} {
		if _, err := parseToken(bad, "koc"); err == nil {
			t.Errorf("token %q: got no error, want one", bad)
		}
	}
}
