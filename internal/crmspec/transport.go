package crmspec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// DefaultMaxBody is Transport's default MaxBody.
const DefaultMaxBody = 32 << 20

// Transport is an http.RoundTripper that checks both sides of every
// exchange against the document: the request with ValidateRequest before it
// is sent, the response with ValidateResponse once it is read. A response
// with a status the operation does not declare (401, 404, 429, 5xx, ...) is
// not a problem. Problems do not stop the exchange: the request is sent and
// the response returned as they are, and each problem is recorded (Problems)
// and passed to Report. It is safe for concurrent use; set its fields
// before the first request.
type Transport struct {
	// Base sends the requests. Default: http.DefaultTransport.
	Base http.RoundTripper
	// Validator checks the exchanges. Required.
	Validator *Validator
	// Auth decides whether an api-key is acceptable. Default: any
	// non-empty key.
	Auth AuthFunc
	// Report, if set, is called with each *ExchangeError, in the goroutine
	// that called RoundTrip (e.g. a test's t.Error).
	Report func(error)
	// MaxBody is the largest response body that is validated; a longer one
	// is passed on unvalidated, so that an endless body stays endless.
	// Default: DefaultMaxBody.
	MaxBody int64

	mu       sync.Mutex
	problems []error
}

// ExchangeError is one problem Transport found.
type ExchangeError struct {
	Method, URL string
	// Response tells a problem of the response (Status is its status) from
	// one of the request.
	Response bool
	Status   int
	Err      error
}

func (e *ExchangeError) Error() string {
	side := "request"
	if e.Response {
		side = fmt.Sprintf("response %d", e.Status)
	}
	return fmt.Sprintf("crmspec: %s %s: %s: %v", e.Method, e.URL, side, e.Err)
}

func (e *ExchangeError) Unwrap() error { return e.Err }

// Problems returns every problem found so far, each an *ExchangeError.
func (t *Transport) Problems() []error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]error(nil), t.problems...)
}

// CloseIdleConnections closes Base's idle connections, if it can.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base == nil {
		return http.DefaultTransport
	}
	return t.Base
}

func (t *Transport) report(r *http.Request, resp *http.Response, err error) {
	e := &ExchangeError{Method: r.Method, URL: r.URL.String(), Err: err}
	if resp != nil {
		e.Response, e.Status = true, resp.StatusCode
	}
	t.mu.Lock()
	t.problems = append(t.problems, e)
	t.mu.Unlock()
	if t.Report != nil {
		t.Report(e)
	}
}

// RoundTrip validates r, sends it with Base, validates the response and
// returns it with its body intact. It does not modify r.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.Validator == nil {
		return nil, errors.New("crmspec: Transport.Validator is nil")
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("crmspec: read request body: %w", err)
		}
		body = b
	}
	send := r.Clone(r.Context())
	check := r.Clone(r.Context())
	if body != nil {
		send.Body = io.NopCloser(bytes.NewReader(body))
		check.Body = io.NopCloser(bytes.NewReader(body))
	}
	ex, err := t.Validator.ValidateRequest(r.Context(), check, t.Auth)
	if err != nil {
		t.report(r, nil, err)
	}
	resp, err := t.base().RoundTrip(send)
	if err != nil || ex == nil {
		return resp, err
	}
	t.checkResponse(r, ex, resp)
	return resp, nil
}

// checkResponse reads and validates resp's body, unless it is longer than
// MaxBody, and puts the bytes read back in front of the rest.
func (t *Transport) checkResponse(r *http.Request, ex *Exchange, resp *http.Response) {
	limit := t.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	if err != nil || int64(len(b)) > limit {
		return // the client will see the error, or the rest, itself
	}
	err = t.Validator.ValidateResponse(r.Context(), ex, resp.StatusCode, resp.Header, b)
	if err != nil && !errors.Is(err, ErrUndeclaredStatus) {
		t.report(r, resp, err)
	}
}
