// Package health answers /healthz and /readyz. Parts of the bridge report
// their state under a name; the bridge is ready when every part is.
package health

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
)

// Health collects the state of the bridge's parts. The zero value is ready
// (it has no parts); it is safe for concurrent use.
type Health struct {
	mu     sync.Mutex
	static map[string]error
	funcs  map[string]func() error
}

// Set records the state of a part: nil when it can do its work, otherwise
// the reason it cannot, as /readyz will show it.
func (h *Health) Set(name string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.static == nil {
		h.static = map[string]error{}
	}
	h.static[name] = err
}

// Check registers a part whose state is asked for on every /readyz.
func (h *Health) Check(name string, f func() error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.funcs == nil {
		h.funcs = map[string]func() error{}
	}
	h.funcs[name] = f
}

// Status is the state of every part: "ok" or the reason it is not ready.
type Status struct {
	Ready bool              `json:"ready"`
	Parts map[string]string `json:"parts"`
}

// Status returns the state of every part.
func (h *Health) Status() Status {
	h.mu.Lock()
	parts := make(map[string]error, len(h.static)+len(h.funcs))
	for k, v := range h.static {
		parts[k] = v
	}
	funcs := make(map[string]func() error, len(h.funcs))
	for k, f := range h.funcs {
		funcs[k] = f
	}
	h.mu.Unlock()
	for k, f := range funcs {
		parts[k] = f()
	}
	st := Status{Ready: true, Parts: make(map[string]string, len(parts))}
	for k, err := range parts {
		if err != nil {
			st.Ready = false
			st.Parts[k] = err.Error()
		} else {
			st.Parts[k] = "ok"
		}
	}
	return st
}

// NotReady lists the parts that are not ready, sorted.
func (s Status) NotReady() []string {
	var out []string
	for k, v := range s.Parts {
		if v != "ok" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Live answers /healthz: 200 while the process serves HTTP at all.
func Live(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"live":true}` + "\n"))
}

// ServeHTTP answers /readyz: 200 when every part is ready, 503 otherwise,
// with each part's state as JSON.
func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	st := h.Status()
	w.Header().Set("Content-Type", "application/json")
	if !st.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(st)
}
