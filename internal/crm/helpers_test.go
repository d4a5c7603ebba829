package crm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmspec"
)

const (
	testKey = "key-1"
	testOrg = "org-1"
)

// validator is shared: loading the document takes a few milliseconds.
var validator = sync.OnceValues(func() (*crmspec.Validator, error) {
	return crmspec.NewValidator(crmspec.Options{Strict: true})
})

// setup is how newClient builds a client.
type setup struct {
	// badResponses lets responses break the document (the tests that send
	// broken answers on purpose); requests must always validate.
	badResponses bool
	// cfg, if set, changes the Config before New.
	cfg func(*crm.Config)
}

// newClient starts h on an httptest server and returns a client of it whose
// every exchange is validated against the document; problems fail t.
func newClient(t *testing.T, h http.Handler, s setup) *crm.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		// Close what is still open first: Close waits for the handlers, and
		// a blocked one ends when its connection does.
		srv.CloseClientConnections()
		srv.Close()
	})
	return newClientFor(t, srv.URL, s)
}

// newClientFor returns a validated client of baseURL.
func newClientFor(t *testing.T, baseURL string, s setup) *crm.Client {
	t.Helper()
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	cfg := crm.Config{BaseURL: baseURL, APIKey: testKey, OrgID: testOrg, Timeout: 5 * time.Second}
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	tr := &crmspec.Transport{
		Base:      crm.NewTransport(cfg),
		Validator: v,
		MaxBody:   1 << 20,
		Auth: func(key string) error {
			if key != testKey {
				return fmt.Errorf("api-key %q, want %q", key, testKey)
			}
			return nil
		},
	}
	if cfg.Transport == nil {
		cfg.Transport = tr
	}
	c, err := crm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		for _, p := range tr.Problems() {
			var ee *crmspec.ExchangeError
			if errors.As(p, &ee) && ee.Response && s.badResponses {
				continue
			}
			t.Errorf("exchange breaks the document: %v", p)
		}
	})
	return c
}

// ctx returns a context that ends with the test, bounded in time.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

// envelope wraps data as the CRM's 2xx answers do.
func envelope(data any) map[string]any {
	return map[string]any{
		"app": "crm", "service": "customers", "warnings": []any{},
		"instanceId": "i-1", "requestId": "req-1", "data": data,
	}
}

// writeJSON writes v (or v's bytes, when v is []byte or string) as the
// answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b []byte
	switch v := v.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// customer returns a valid UserMap record.
func customer(id, updatedAt string) map[string]any {
	return map[string]any{
		"id": id, "firstName": "Ada", "lastName": "Lovelace", "email": id + "@example.com",
		"phone": "5550100", "phoneCountry": "US", "phoneCountryCalling": "1",
		"number": "N-" + id, "cityId": nil, "birthDate": "1815-12-10",
		"gender": map[string]any{"value": "F"}, "unsubscribed": false, "internalNote": nil,
		"archivedAt": nil, "archivedBy": nil, "archivedVia": nil,
		"createdAt": "2026-01-01T00:00:00.000Z", "createdVia": "api", "createdBy": "u-1",
		"updatedAt": updatedAt, "updatedVia": "api", "updatedBy": "u-1",
	}
}

// recorded is what a test server saw of one request.
type recorded struct {
	method, path, rawPath, query string
	header                       http.Header
	body                         []byte
}

// recorder keeps the requests a test server receives.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

func (r *recorder) record(req *http.Request) recorded {
	b, _ := io.ReadAll(req.Body)
	rec := recorded{method: req.Method, path: req.URL.Path, rawPath: req.URL.EscapedPath(),
		query: req.URL.RawQuery, header: req.Header.Clone(), body: b}
	r.mu.Lock()
	r.reqs = append(r.reqs, rec)
	r.mu.Unlock()
	return rec
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}
