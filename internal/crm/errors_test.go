package crm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
)

var sentinels = map[string]error{
	"ErrNotFound": crm.ErrNotFound, "ErrDuplicatePhone": crm.ErrDuplicatePhone,
	"ErrNoChanges": crm.ErrNoChanges, "ErrCompactInactive": crm.ErrCompactInactive,
	"ErrMissingID": crm.ErrMissingID, "ErrNoCreateAction": crm.ErrNoCreateAction,
	"ErrUnauthorized": crm.ErrUnauthorized, "ErrRateLimited": crm.ErrRateLimited,
	"ErrUnavailable": crm.ErrUnavailable, "ErrTimeout": crm.ErrTimeout,
	"ErrBadResponse": crm.ErrBadResponse, "ErrRepeatedNext": crm.ErrRepeatedNext,
	"ErrMisrouted":     crm.ErrMisrouted,
	"context.Canceled": context.Canceled, "context.DeadlineExceeded": context.DeadlineExceeded,
}

// clock is the time the client's clock says in TestErrors.
var clock = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// answerWith returns a handler answering status with header and body.
func answerWith(status int, header map[string]string, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		writeJSON(w, status, body)
	}
}

func functional(code string) string {
	return `{"error":{"code":"` + code + `"},"requestId":"req-e"}`
}

// callOp makes one call of op and returns its error.
func callOp(ctx context.Context, c *crm.Client, op string) error {
	var err error
	switch op {
	case "create":
		_, err = c.Create(ctx, crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	case "get":
		_, err = c.Get(ctx, "cus_1")
	case "update":
		err = c.Update(ctx, "cus_1", crm.UpdateParams{FirstName: ptr("Ada")})
	case "delete":
		err = c.Delete(ctx, "cus_1")
	case "list":
		_, err = c.List(ctx)
	case "export":
		_, err = c.ExportPage(ctx, time.Time{}, "")
	default:
		panic(op)
	}
	return err
}

// TestErrors shows, for every kind of failure, the *Error the client
// returns: its Status, Code, RetryAfter, the sentinels it matches (and
// that it matches no other), its Class and its ResultCode.
func TestErrors(t *testing.T) {
	type want struct {
		status     int
		code       string
		retryAfter time.Duration
		requestID  string
		is         []string // sentinels matched; every other must not match
		class      crm.Class
		result     string
	}
	tests := []struct {
		name    string
		op      string
		handler http.HandlerFunc // nil: no server
		run     func(t *testing.T) error
		want    want
	}{
		{name: "400 DUPLICATE_PHONE", op: "create", handler: answerWith(400, nil, functional("DUPLICATE_PHONE")),
			want: want{status: 400, code: "DUPLICATE_PHONE", requestID: "req-e", is: []string{"ErrDuplicatePhone"}, class: crm.Permanent, result: "DUPLICATE_PHONE"}},
		{name: "400 NotFound", op: "get", handler: answerWith(400, nil, functional("NotFound")),
			want: want{status: 400, code: "NotFound", requestID: "req-e", is: []string{"ErrNotFound"}, class: crm.Permanent, result: "NotFound"}},
		{name: "400 COMPACT_INACTIVE", op: "get", handler: answerWith(400, nil, functional("COMPACT_INACTIVE")),
			want: want{status: 400, code: "COMPACT_INACTIVE", requestID: "req-e", is: []string{"ErrCompactInactive"}, class: crm.Permanent, result: "COMPACT_INACTIVE"}},
		{name: "400 MISSING_ID", op: "get", handler: answerWith(400, nil, functional("MISSING_ID")),
			want: want{status: 400, code: "MISSING_ID", requestID: "req-e", is: []string{"ErrMissingID"}, class: crm.Permanent, result: "MISSING_ID"}},
		{name: "400 NO_CREATE_ACTION", op: "get", handler: answerWith(400, nil, functional("NO_CREATE_ACTION")),
			want: want{status: 400, code: "NO_CREATE_ACTION", requestID: "req-e", is: []string{"ErrNoCreateAction"}, class: crm.Permanent, result: "NO_CREATE_ACTION"}},
		{name: "400 NoChanges", op: "update", handler: answerWith(400, nil, functional("NoChanges")),
			want: want{status: 400, code: "NoChanges", requestID: "req-e", is: []string{"ErrNoChanges"}, class: crm.Permanent, result: "NoChanges"}},
		{name: "400 NotFound on update", op: "update", handler: answerWith(400, nil, functional("NotFound")),
			want: want{status: 400, code: "NotFound", requestID: "req-e", is: []string{"ErrNotFound"}, class: crm.Permanent, result: "NotFound"}},
		{name: "400 unknown code", op: "delete", handler: answerWith(400, nil, `{"error":{"code":"SOMETHING_NEW","message":"m"}}`),
			want: want{status: 400, code: "SOMETHING_NEW", class: crm.Permanent, result: "SOMETHING_NEW"}},
		{name: "400 not JSON", op: "create", handler: answerWith(400, map[string]string{"X-Request-Id": "hdr-1"}, `<html>bad request</html>`),
			want: want{status: 400, requestID: "hdr-1", class: crm.Permanent, result: "CRM_HTTP_400"}},
		{name: "401", op: "list", handler: answerWith(401, nil, `{"error":"unauthorized"}`),
			want: want{status: 401, is: []string{"ErrUnauthorized"}, class: crm.Auth, result: "CRM_HTTP_401"}},
		{name: "403", op: "export", handler: answerWith(403, nil, ``),
			want: want{status: 403, is: []string{"ErrUnauthorized"}, class: crm.Auth, result: "CRM_HTTP_403"}},
		{name: "404 NotFound on delete", op: "delete", handler: answerWith(404, nil, functional("NotFound")),
			want: want{status: 404, code: "NotFound", requestID: "req-e", is: []string{"ErrNotFound"}, class: crm.Permanent, result: "NotFound"}},
		{name: "404 bare on delete", op: "delete", handler: answerWith(404, nil, `not found`),
			want: want{status: 404, is: []string{"ErrMisrouted"}, class: crm.Misrouted, result: "CRM_HTTP_404"}},
		{name: "404 bare on update", op: "update", handler: answerWith(404, nil, ``),
			want: want{status: 404, is: []string{"ErrMisrouted"}, class: crm.Misrouted, result: "CRM_HTTP_404"}},
		{name: "404 NO_ROUTE", op: "update", handler: answerWith(404, nil, functional("NO_ROUTE")),
			want: want{status: 404, code: "NO_ROUTE", requestID: "req-e", is: []string{"ErrMisrouted"}, class: crm.Misrouted, result: "NO_ROUTE"}},
		{name: "404 JSON without a code", op: "get", handler: answerWith(404, nil, `{"error":"no route","requestId":"gw-1"}`),
			want: want{status: 404, requestID: "gw-1", is: []string{"ErrMisrouted"}, class: crm.Misrouted, result: "CRM_HTTP_404"}},
		{name: "408", op: "get", handler: answerWith(408, nil, ``),
			want: want{status: 408, is: []string{"ErrTimeout"}, class: crm.Transient, result: "CRM_HTTP_408"}},
		{name: "409", op: "create", handler: answerWith(409, nil, `{}`),
			want: want{status: 409, class: crm.Permanent, result: "CRM_HTTP_409"}},
		{name: "422", op: "update", handler: answerWith(422, nil, `{"message":"unprocessable"}`),
			want: want{status: 422, class: crm.Permanent, result: "CRM_HTTP_422"}},
		{name: "429 Retry-After seconds", op: "create", handler: answerWith(429, map[string]string{"Retry-After": "7"}, ``),
			want: want{status: 429, retryAfter: 7 * time.Second, is: []string{"ErrRateLimited"}, class: crm.Transient, result: "CRM_HTTP_429"}},
		{name: "429 Retry-After date", op: "export",
			handler: answerWith(429, map[string]string{"Retry-After": clock.Add(30 * time.Second).Format(http.TimeFormat)}, ``),
			want:    want{status: 429, retryAfter: 30 * time.Second, is: []string{"ErrRateLimited"}, class: crm.Transient, result: "CRM_HTTP_429"}},
		{name: "429 Retry-After missing", op: "get", handler: answerWith(429, nil, ``),
			want: want{status: 429, is: []string{"ErrRateLimited"}, class: crm.Transient, result: "CRM_HTTP_429"}},
		{name: "429 Retry-After garbage", op: "get", handler: answerWith(429, map[string]string{"Retry-After": "soon"}, ``),
			want: want{status: 429, is: []string{"ErrRateLimited"}, class: crm.Transient, result: "CRM_HTTP_429"}},
		{name: "500", op: "create", handler: answerWith(500, nil, `{"error":{"code":"BOOM"}}`),
			want: want{status: 500, is: []string{"ErrUnavailable"}, class: crm.Transient, result: "CRM_HTTP_500"}},
		{name: "502", op: "update", handler: answerWith(502, nil, `<html>bad gateway</html>`),
			want: want{status: 502, is: []string{"ErrUnavailable"}, class: crm.Transient, result: "CRM_HTTP_502"}},
		{name: "503 Retry-After", op: "delete", handler: answerWith(503, map[string]string{"Retry-After": "2"}, ``),
			want: want{status: 503, retryAfter: 2 * time.Second, is: []string{"ErrUnavailable"}, class: crm.Transient, result: "CRM_HTTP_503"}},
		{name: "504", op: "list", handler: answerWith(504, nil, ``),
			want: want{status: 504, is: []string{"ErrUnavailable"}, class: crm.Transient, result: "CRM_HTTP_504"}},
		{name: "302 not followed", op: "get", run: redirected,
			want: want{status: 302, class: crm.Permanent, result: "CRM_HTTP_302"}},
		{name: "200 undecodable", op: "get", handler: answerWith(200, nil, `<html>proxy login</html>`),
			want: want{status: 200, is: []string{"ErrBadResponse", "ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "200 without data", op: "create", handler: answerWith(200, nil, `{"requestId":"req-d","warnings":[]}`),
			want: want{status: 200, requestID: "req-d", is: []string{"ErrBadResponse", "ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "200 create without id", op: "create", handler: answerWith(200, nil, `{"data":{"succeed":true}}`),
			want: want{status: 200, is: []string{"ErrBadResponse", "ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "200 succeed false", op: "delete", handler: answerWith(200, nil, `{"data":{"succeed":false}}`),
			want: want{status: 200, is: []string{"ErrBadResponse", "ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "200 record without id", op: "export", handler: answerWith(200, nil, `{"data":{"items":[{"firstName":"x"}]}}`),
			want: want{status: 200, is: []string{"ErrBadResponse", "ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "dropped connection", op: "update", handler: hangUp,
			want: want{is: []string{"ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "connection refused", op: "create", run: refused,
			want: want{is: []string{"ErrUnavailable"}, class: crm.Transient, result: "CRM_UNAVAILABLE"}},
		{name: "client timeout", op: "get", run: slowServer,
			want: want{is: []string{"ErrTimeout"}, class: crm.Transient, result: "CRM_TIMEOUT"}},
		{name: "caller cancels", op: "update", run: callerCancels,
			want: want{is: []string{"context.Canceled"}, class: crm.Canceled, result: crm.ResultCanceled}},
		{name: "caller deadline", op: "export", run: callerDeadline,
			want: want{is: []string{"context.DeadlineExceeded"}, class: crm.Canceled, result: crm.ResultCanceled}},
		{name: "caller done before the call", op: "create", run: callerDoneBefore,
			want: want{is: []string{"context.Canceled"}, class: crm.Canceled, result: crm.ResultCanceled}},
		{name: "empty id", op: "delete", run: emptyID,
			want: want{code: "MISSING_ID", is: []string{"ErrMissingID"}, class: crm.Permanent, result: "MISSING_ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.run != nil {
				err = tt.run(t)
			} else {
				c := newClient(t, tt.handler, setup{badResponses: true})
				crm.SetClock(c, func() time.Time { return clock })
				err = callOp(ctx(t), c, tt.op)
			}
			var e *crm.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want *crm.Error", err, err)
			}
			t.Logf("%v", err)
			w := tt.want
			if e.Op != tt.op || e.Status != w.status || e.Code != w.code || e.RetryAfter != w.retryAfter {
				t.Errorf("got op %q status %d code %q retryAfter %s, want %q %d %q %s",
					e.Op, e.Status, e.Code, e.RetryAfter, tt.op, w.status, w.code, w.retryAfter)
			}
			if w.requestID != "" && e.RequestID != w.requestID {
				t.Errorf("got request id %q, want %q", e.RequestID, w.requestID)
			}
			for name, s := range sentinels {
				want := false
				for _, n := range w.is {
					want = want || n == name
				}
				if got := errors.Is(err, s); got != want {
					t.Errorf("got errors.Is(err, %s) = %v, want %v", name, got, want)
				}
			}
			if got := crm.Classify(fmt.Errorf("wrapped: %w", err)); got != w.class {
				t.Errorf("got class %v, want %v", got, w.class)
			}
			if got := e.ResultCode(); got != w.result {
				t.Errorf("got result code %q, want %q", got, w.result)
			}
			if w.class == crm.Misrouted && !strings.Contains(err.Error(), "not the CRM's API at http://127.0.0.1:") {
				t.Errorf("got %q, want it to name the base URL", err)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("got %q, which shows the api key", err)
			}
		})
	}
}

// hangUp takes the connection over and closes it without an answer.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

func refused(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c := newClientFor(t, "http://"+addr, setup{})
	return callOp(ctx(t), c, "create")
}

// blockUntilGone answers only once the client has gone (or the test's
// server closes the connection), signalling hit (if not nil) when the
// request arrives.
func blockUntilGone(hit chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Read the body: only then does the server notice a closed connection.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case hit <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}
}

func slowServer(t *testing.T) error {
	t.Helper()
	c := newClient(t, blockUntilGone(nil), setup{cfg: func(c *crm.Config) { c.Timeout = 100 * time.Millisecond }})
	err := callOp(ctx(t), c, "get")
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("client timeout %v matches context.DeadlineExceeded: callers would take it for their own", err)
	}
	return err
}

func callerCancels(t *testing.T) error {
	t.Helper()
	hit := make(chan struct{}, 1)
	c := newClient(t, blockUntilGone(hit), setup{})
	cctx, cancel := context.WithCancel(ctx(t))
	go func() {
		<-hit
		cancel()
	}()
	return callOp(cctx, c, "update")
}

func callerDeadline(t *testing.T) error {
	t.Helper()
	c := newClient(t, blockUntilGone(nil), setup{})
	cctx, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	return callOp(cctx, c, "export")
}

func callerDoneBefore(t *testing.T) error {
	t.Helper()
	var hits atomic.Int32
	c := newClient(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }), setup{})
	cctx, cancel := context.WithCancel(ctx(t))
	cancel()
	err := callOp(cctx, c, "create")
	if n := hits.Load(); n != 0 {
		t.Errorf("got %d requests, want 0", n)
	}
	return err
}

func emptyID(t *testing.T) error {
	t.Helper()
	var hits atomic.Int32
	c := newClient(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }), setup{})
	for _, f := range []func() error{
		func() error { _, err := c.Get(ctx(t), ""); return err },
		func() error { return c.Update(ctx(t), "", crm.UpdateParams{}) },
	} {
		if err := f(); !errors.Is(err, crm.ErrMissingID) {
			t.Errorf("got %v, want ErrMissingID", err)
		}
	}
	err := c.Delete(ctx(t), "")
	if n := hits.Load(); n != 0 {
		t.Errorf("got %d requests, want 0", n)
	}
	return err
}

// redirected answers 302 to a second server that must never be asked (it
// would receive the api-key).
func redirected(t *testing.T) error {
	t.Helper()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	c := newClient(t, answerWith(302, map[string]string{"Location": target.URL + "/v1/crm/customers/cus_1"}, ``), setup{badResponses: true})
	err := callOp(ctx(t), c, "get")
	if n := hits.Load(); n != 0 {
		t.Errorf("got %d requests to the redirect target, want 0", n)
	}
	return err
}

func TestClassifyOther(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want crm.Class
	}{
		{"nil", nil, crm.None},
		{"plain error", errors.New("x"), crm.Permanent},
		{"bare context canceled", fmt.Errorf("x: %w", context.Canceled), crm.Canceled},
		{"fake 503", &crm.Error{Op: "create", Status: 503}, crm.Transient},
		{"fake network", &crm.Error{Op: "create", Err: errors.New("reset")}, crm.Transient},
		{"fake timeout", fmt.Errorf("a: %w", &crm.Error{Op: "get", Err: crm.ErrTimeout}), crm.Transient},
		{"fake functional", &crm.Error{Op: "create", Status: 400, Code: crm.CodeDuplicatePhone}, crm.Permanent},
		{"fake 403", &crm.Error{Op: "list", Status: 403}, crm.Auth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crm.Classify(tt.err); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, value string
		want        time.Duration
	}{
		{"empty", "", 0},
		{"zero", "0", 0},
		{"seconds", "7", 7 * time.Second},
		{"seconds with spaces", " 7 ", 7 * time.Second},
		{"negative", "-5", 0},
		{"fraction", "1.5", 0},
		{"garbage", "soon", 0},
		{"over the cap", "3600", crm.MaxRetryAfter},
		{"overflowing", "99999999999999999999999", crm.MaxRetryAfter},
		{"IMF date", "Fri, 27 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{"RFC 850 date", "Friday, 27-Nov-26 10:01:00 GMT", time.Minute},
		{"ANSI C date", "Fri Nov 27 10:00:10 2026", 10 * time.Second},
		{"past date", "Fri, 27 Nov 2026 09:00:00 GMT", 0},
		{"far date", "Sat, 28 Nov 2026 10:00:00 GMT", crm.MaxRetryAfter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crm.ParseRetryAfter(tt.value, now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
