package crmsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crmspec"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a started simulator, a client for it and a validator of the
// test's own.
type harness struct {
	t      *testing.T
	sim    *Simulator
	client *http.Client
	v      *crmspec.Validator
}

// start returns a simulator serving on a free port, with ValidateResponses
// on; cleanup closes it and fails the test if any response did not
// validate.
func start(t *testing.T, opts Options) *harness {
	t.Helper()
	opts.ValidateResponses = true
	sim, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	v, err := crmspec.NewValidator(crmspec.Options{Strict: true})
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	h := &harness{t: t, sim: sim, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, v: v}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = sim.Close()
		for _, err := range sim.ResponseErrors() {
			t.Errorf("simulator response error: %v", err)
		}
	})
	return h
}

// answer is one exchange as the client saw it.
type answer struct {
	status int
	header http.Header
	body   []byte
	reqErr error // the test's validator on the request
	docErr error // the test's validator on the response
}

// envelope decodes a successful answer.
func (a answer) envelope(t *testing.T) struct {
	App, Service, InstanceID, RequestID string
	Warnings                            []map[string]any
	Data                                json.RawMessage
} {
	t.Helper()
	var e struct {
		App, Service, InstanceID, RequestID string
		Warnings                            []map[string]any
		Data                                json.RawMessage
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("decode envelope %s: %v", a.body, err)
	}
	return e
}

// code returns the error code of an error answer.
func (a answer) code() string {
	var e struct {
		Error struct{ Code string }
	}
	_ = json.Unmarshal(a.body, &e)
	return e.Error.Code
}

// headers sets or, with an empty value, removes request headers.
type headers map[string]string

// call sends a request with api-key and organization-id set (unless hdr
// says otherwise), validating the request and the answer with the test's
// own validator. body is sent as is when a string, else as JSON.
func (h *harness) call(method, path string, body any, hdr headers) answer {
	h.t.Helper()
	a, err := h.try(context.Background(), method, path, body, hdr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// try is call that returns the transport's error.
func (h *harness) try(ctx context.Context, method, path string, body any, hdr headers) (answer, error) {
	h.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			h.t.Fatalf("encode body: %v", err)
		}
	}
	build := func(base string) *http.Request {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			h.t.Fatalf("new request: %v", err)
		}
		req.Header.Set("api-key", "key-1")
		req.Header.Set("organization-id", "org-1")
		if raw != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range hdr {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		return req
	}
	var a answer
	ex, reqErr := h.v.ValidateRequest(ctx, build("http://crm.example"), nil)
	a.reqErr = reqErr
	resp, err := h.client.Do(build(h.sim.URL()))
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	a.status, a.header = resp.StatusCode, resp.Header
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		return a, err
	}
	if ex != nil {
		a.docErr = h.v.ValidateResponse(ctx, ex, a.status, a.header, a.body)
	} else {
		a.docErr = reqErr
	}
	return a, nil
}

// docVerdict is what the document says of an answer.
type docVerdict int

const (
	docValid      docVerdict = iota // validates
	docUndeclared                   // a status the operation does not declare
	docOffEnum                      // a 400 whose code the operation does not declare
)

// checkDoc fails the test unless the answer's validation matches want.
func checkDoc(t *testing.T, a answer, want docVerdict) {
	t.Helper()
	switch want {
	case docValid:
		if a.docErr != nil {
			t.Errorf("answer %d %s does not validate: %v", a.status, a.body, a.docErr)
		}
	case docUndeclared:
		if !errors.Is(a.docErr, crmspec.ErrUndeclaredStatus) {
			t.Errorf("answer %d: got validation error %v, want ErrUndeclaredStatus", a.status, a.docErr)
		}
	case docOffEnum:
		if a.docErr == nil || !strings.Contains(a.docErr.Error(), "value is not one of the allowed values") {
			t.Errorf("answer %d %s: got validation error %v, want a code outside the declared enum", a.status, a.body, a.docErr)
		}
	}
}

// mustValidRequest fails the test unless the request validated.
func mustValidRequest(t *testing.T, a answer) {
	t.Helper()
	if a.reqErr != nil {
		t.Fatalf("the test's own request does not validate: %v", a.reqErr)
	}
}

// create creates a customer over HTTP and returns its id.
func (h *harness) create(params map[string]any) string {
	h.t.Helper()
	a := h.call("POST", "/v1/crm/customers", map[string]any{"params": params}, nil)
	mustValidRequest(h.t, a)
	if a.status != 200 {
		h.t.Fatalf("create: got %d %s, want 200", a.status, a.body)
	}
	checkDoc(h.t, a, docValid)
	var d struct {
		Succeed bool
		ID      string
	}
	if err := json.Unmarshal(a.envelope(h.t).Data, &d); err != nil || !d.Succeed || d.ID == "" {
		h.t.Fatalf("create: data %s (%v)", a.body, err)
	}
	return d.ID
}

// page is an export or list page.
type page struct {
	Items []map[string]any
	Users []map[string]any
	Next  *string
}

// export fetches one export page.
func (h *harness) export(query string) page {
	h.t.Helper()
	a := h.call("GET", "/v1/crm/customers/export"+query, nil, nil)
	mustValidRequest(h.t, a)
	if a.status != 200 {
		h.t.Fatalf("export %s: got %d %s, want 200", query, a.status, a.body)
	}
	checkDoc(h.t, a, docValid)
	var p page
	if err := json.Unmarshal(a.envelope(h.t).Data, &p); err != nil {
		h.t.Fatalf("export: decode %s: %v", a.body, err)
	}
	return p
}

// stringsReader returns a reader of s, or nil for "".
func stringsReader(s string) io.Reader {
	if s == "" {
		return nil
	}
	return strings.NewReader(s)
}
