package otlptest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Front is an HTTP reverse proxy in front of a server (the CRM
// simulator) that records the traceparent header of the requests it
// passes on: the last request's of each method, every value of the header
// comma separated. It is closed when the test ends.
type Front struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string]string
}

// StartFront starts a Front of the server at target.
func StartFront(t testing.TB, target string) *Front {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f := &Front{got: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.got[r.Method] = strings.Join(r.Header.Values("traceparent"), ",")
		f.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// Traceparent returns the traceparent of the last request with method, ""
// when there was none.
func (f *Front) Traceparent(method string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[method]
}
