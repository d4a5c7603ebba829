package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestReadBodyBuffer: a body of unknown length is read into a buffer that
// starts at the hint and an eighth more (within the limit), one of known
// length into one of its size; either way the body comes whole, and one
// over the limit fails.
func TestReadBodyBuffer(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100_000)
	n := int64(len(body))
	unknown := func(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }
	tests := []struct {
		name                string
		length, limit, hint int64
		wantCap             int64 // 0: any
	}{
		{"unknown, no hint", -1, 1 << 20, 0, 0},
		{"unknown, hinted", -1, 1 << 20, n, bytes.MinRead + n + n/8},
		{"unknown, hint under the body", -1, 1 << 20, n / 2, 0},
		{"unknown, hint over the limit", -1, n + 10, 4 * n, bytes.MinRead + n + 10},
		{"known", n, 1 << 20, 4 * n, bytes.MinRead + n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(unknown(body), tt.length, tt.limit, tt.hint)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("got %d bytes, %v; want the body", len(got), err)
			}
			if tt.wantCap != 0 && int64(cap(got)) != tt.wantCap {
				t.Errorf("buffer of %d bytes, want %d", cap(got), tt.wantCap)
			}
		})
	}
	if _, err := readBody(unknown(body), -1, n-1, n); !errors.Is(err, errTooLarge) {
		t.Errorf("a body over the limit, hinted: %v, want errTooLarge", err)
	}
}

// TestExportBufferFromLastPage: the client keeps the size of the last
// export page it read, sent without a Content-Length, as the next one's
// hint.
func TestExportBufferFromLastPage(t *testing.T) {
	var page []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page[:10])
		w.(http.Flusher).Flush() // no Content-Length: chunked
		_, _ = w.Write(page[10:])
	}))
	defer srv.Close()
	items := []any{}
	for i := range 50 {
		id := fmt.Sprintf("cus_%d", i)
		items = append(items, map[string]any{
			"id": id, "firstName": "Ada", "lastName": "Lovelace", "email": id + "@example.com",
			"phone": "5550100", "phoneCountry": "US", "phoneCountryCalling": "1",
			"number": "N-" + id, "cityId": nil, "birthDate": "1815-12-10",
			"gender": map[string]any{"value": "F"}, "unsubscribed": false, "internalNote": nil,
			"archivedAt": nil, "archivedBy": nil, "archivedVia": nil,
			"createdAt": "2026-01-01T00:00:00.000Z", "createdVia": "api", "createdBy": "u-1",
			"updatedAt": "2026-11-27T10:00:01.000Z", "updatedVia": "api", "updatedBy": "u-1",
		})
	}
	var err error
	page, err = json.Marshal(map[string]any{"app": "crm", "service": "customers", "warnings": []any{},
		"instanceId": "i-1", "requestId": "req-1", "data": map[string]any{"items": items}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: srv.URL, APIKey: "key-1", OrgID: "org-1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 2 {
		p, err := c.ExportPage(ctx, time.Time{}, "")
		if err != nil || len(p.Items) != len(items) {
			t.Fatalf("got %d items, %v; want %d", len(p.Items), err, len(items))
		}
		if got := c.exportBytes.Load(); got != int64(len(page)) {
			t.Fatalf("the hint is %d bytes, want the page's %d", got, len(page))
		}
	}
}
