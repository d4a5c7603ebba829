package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormic/crm-bridge/internal/tracing"
)

// Client calls the CRM's customer API. It is safe for concurrent use; one
// Client per CRM is enough (it pools connections). Close it when done.
type Client struct {
	base     string // Config.BaseURL without a trailing slash
	apiKey   string
	orgID    string
	agent    string
	timeout  time.Duration
	maxBytes int64
	log      *slog.Logger
	observe  func(op string, status int, took time.Duration)
	warned   func(op string, n int)
	http     *http.Client
	now      func() time.Time // for Retry-After dates; tests replace it
	limit    *limiter         // nil: no client-side limit
	tracer   trace.Tracer
	// pageRetries and pageBackoff are Export's retries of one page.
	pageRetries int
	pageBackoff func() backoff.BackOff
	// exportBytes is the size of the last export page read: the next
	// page's buffer starts at about that size when the CRM sends no
	// Content-Length, instead of growing from 512 bytes by doubling (a
	// page of 1,000 records: 12 allocations and twice its bytes, and the
	// bulk change's largest source of garbage).
	exportBytes atomic.Int64
}

// New returns a Client for cfg, or cfg.Validate's error.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	rt := cfg.Transport
	if rt == nil {
		rt = NewTransport(cfg)
	}
	return &Client{
		base:        strings.TrimRight(cfg.BaseURL, "/"),
		apiKey:      cfg.APIKey,
		orgID:       cfg.OrgID,
		agent:       cfg.UserAgent,
		timeout:     cfg.Timeout,
		maxBytes:    cfg.MaxResponseBytes,
		log:         cfg.Logger,
		observe:     cfg.Observe,
		warned:      cfg.Warned,
		http:        newHTTPClient(rt),
		now:         time.Now,
		limit:       newLimiter(cfg.Rate),
		tracer:      cfg.TracerProvider.Tracer(tracing.Name),
		pageRetries: cfg.PageRetries,
		pageBackoff: newPageBackoff,
	}, nil
}

// newHTTPClient returns the HTTP client of a Client, over rt.
func newHTTPClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: rt,
		// Never follow a redirect: the CRM's API does not redirect, and
		// following one would send the api-key header to wherever the
		// Location points. A 3xx comes back as a Permanent *Error.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newPageBackoff returns the backoff between Export's retries of one page:
// from 250ms, doubling, up to 5s, for as long as the retries last.
func newPageBackoff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(250*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithMaxInterval(5*time.Second),
		backoff.WithMaxElapsedTime(0))
}

// NewTransport returns the tuned transport New uses when Config.Transport is
// nil, for cfg with its defaults applied: at most MaxConns connections (all
// of which may stay idle, for 90s), a dial timeout of min(Timeout, 5s), a
// TLS handshake timeout of min(Timeout, 10s), ResponseHeaderTimeout =
// Timeout, HTTP/2 when the server offers it, and the proxy from the
// environment (HTTPS_PROXY, NO_PROXY).
func NewTransport(cfg Config) *http.Transport {
	cfg = cfg.withDefaults()
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           cfg.MaxConns,
		MaxIdleConnsPerHost:    cfg.MaxConns,
		MaxConnsPerHost:        cfg.MaxConns,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    min(cfg.Timeout, 10*time.Second),
		ResponseHeaderTimeout:  cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// Close closes the idle connections of the Client's transport. Requests in
// flight are not interrupted; the Client stays usable.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// errorBodyLimit caps how much of a non-2xx answer is read: enough for the
// CRM's {"error":{...}}, not for a proxy's endless page.
const errorBodyLimit = 64 << 10

// errRequestTimeout is the cause of the per-request context's deadline, to
// tell it from the caller's.
var errRequestTimeout = errors.New("crm: per-request timeout")

// errTooLarge is returned by readBody for a body over its limit.
var errTooLarge = errors.New("body too large")

// call is one request to the CRM.
type call struct {
	op     string
	id     string // customer id, for errors and logs
	method string
	path   string // escaped, appended to the base URL
	query  url.Values
	body   any // wrapped in {"params": ...}; nil: no body
}

// answer is a 2xx answer, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// exchange sends cl and reads its answer within the per-request timeout. A
// 2xx comes back as an answer; anything else as an *Error. The request is
// the span "crm <op>" (trace.go).
func (c *Client) exchange(ctx context.Context, cl call) (ans answer, err error) {
	ctx, span := c.startSpan(ctx, cl)
	defer func() { endSpan(span, ans, err) }()
	if err := c.admit(ctx, cl); err != nil {
		return answer{}, err
	}
	rctx, cancel := context.WithTimeoutCause(ctx, c.timeout, errRequestTimeout)
	defer cancel()
	req, err := c.newRequest(rctx, cl)
	if err != nil {
		return answer{}, fmt.Errorf("crm: %s: %w", cl.op, err)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		e := c.failure(ctx, rctx, cl, 0, err)
		c.done(ctx, cl, 0, "", 0, time.Since(start), e)
		return answer{}, e
	}
	defer drainClose(resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests {
		c.limit.throttled()
	} else {
		c.limit.answered()
	}
	return c.read(ctx, rctx, cl, resp, start)
}

// admit returns an *Error when ctx is done, or ends while cl waits for the
// rate limiter; nil once cl may be sent.
func (c *Client) admit(ctx context.Context, cl call) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: cl.op, ID: cl.id, Err: err}
	}
	if err := c.limit.wait(ctx); err != nil {
		return &Error{Op: cl.op, ID: cl.id, Err: ctx.Err()}
	}
	return nil
}

// read reads the body of resp, the answer to cl sent at start, within the
// limit of its status. A 2xx read in full comes back as an answer;
// anything else, a 2xx too large or cut short included, as an *Error,
// reported with done.
func (c *Client) read(ctx, rctx context.Context, cl call, resp *http.Response, start time.Time) (answer, error) {
	ok := isSuccess(resp.StatusCode)
	limit := c.maxBytes
	if !ok {
		limit = min(limit, errorBodyLimit)
	}
	var hint int64
	if cl.op == opExport {
		hint = c.exportBytes.Load()
	}
	body, err := readBody(resp.Body, resp.ContentLength, limit, hint)
	took := time.Since(start)
	if err == nil && ok && cl.op == opExport {
		c.exportBytes.Store(int64(len(body)))
	}
	switch {
	case err == nil:
	case errors.Is(err, errTooLarge) && ok:
		e := &Error{Op: cl.op, ID: cl.id, Status: resp.StatusCode,
			RequestID: resp.Header.Get("X-Request-Id"),
			Err:       fmt.Errorf("%w: body over %d bytes", ErrBadResponse, limit)}
		c.done(ctx, cl, resp.StatusCode, e.RequestID, len(body), took, e)
		return answer{}, e
	case ok || ctx.Err() != nil:
		e := c.failure(ctx, rctx, cl, resp.StatusCode, err)
		c.done(ctx, cl, resp.StatusCode, resp.Header.Get("X-Request-Id"), len(body), took, e)
		return answer{}, e
	default:
		body = nil // the status says enough; the error body is a bonus
	}
	if !ok {
		return answer{}, c.refused(ctx, cl, resp, body, took)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body, took: took}, nil
}

// refused returns the *Error of resp, a non-2xx answer to cl with the
// given body, having reported it with done and logged its warnings.
func (c *Client) refused(ctx context.Context, cl call, resp *http.Response, body []byte, took time.Duration) *Error {
	e := errorFromAnswer(cl.op, cl.id, resp.StatusCode, resp.Header, body, c.now())
	if e.misrouted() {
		e.Message = strings.TrimSpace("not the CRM's API at " + c.base + " (a 404 without the CRM's NotFound) " + e.Message)
	}
	c.done(ctx, cl, resp.StatusCode, e.RequestID, len(body), took, e)
	c.logWarnings(ctx, cl, e.RequestID, warningsOf(body))
	return e
}

// done reports one request: to Observe, and as a debug line that carries
// the CRM's request id (for a 2xx, send calls it once the body is decoded
// and the id known).
func (c *Client) done(ctx context.Context, cl call, status int, requestID string, bytes int, took time.Duration, err error) {
	if c.observe != nil {
		c.observe(cl.op, status, took)
	}
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("op", cl.op), slog.String("customer_id", cl.id), slog.Int("status", status),
		slog.String("request_id", requestID), slog.Int("bytes", bytes), slog.Duration("duration", took)}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "crm request", attrs...)
}

func (c *Client) newRequest(ctx context.Context, cl call) (*http.Request, error) {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(struct {
			Params any `json:"params"`
		}{cl.body})
		if err != nil {
			return nil, fmt.Errorf("encode params: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("api-key", c.apiKey)
	req.Header.Set("organization-id", c.orgID)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	tracing.Propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return req, nil
}

// failure turns an error of sending or reading into an *Error: the caller's
// context error when the caller's context is done, ErrTimeout when the
// per-request timeout (or a transport timeout) hit, else the network error.
func (c *Client) failure(ctx, rctx context.Context, cl call, status int, err error) *Error {
	e := &Error{Op: cl.op, ID: cl.id, Status: status}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		e.Err = ctx.Err()
	case errors.Is(context.Cause(rctx), errRequestTimeout):
		e.Err = fmt.Errorf("%w: no answer within %s", ErrTimeout, c.timeout)
	case errors.As(err, &ne) && ne.Timeout():
		// %v, not %w: the chain may hold context.DeadlineExceeded, which
		// callers read as their own deadline.
		e.Err = fmt.Errorf("%w: %v", ErrTimeout, err)
	default:
		e.Err = err
	}
	return e
}

// readBody reads r to its end, failing with errTooLarge past limit bytes.
// length is the announced Content-Length, -1 if unknown; then the buffer
// starts at hint and an eighth more, hint being the size the body is
// likely to have (0 if none is known).
func readBody(r io.Reader, length, limit, hint int64) ([]byte, error) {
	if length > limit {
		return nil, errTooLarge
	}
	size := int64(bytes.MinRead) // room for the final Read that sees EOF
	switch {
	case length > 0:
		size += length
	case length < 0 && hint > 0:
		size += min(hint+hint/8, limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// drainClose reads a little of what is left of body, so that the
// connection can be reused, and closes it. A body with more left is closed
// unread, which closes its connection.
func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}

// logWarnings notes the warnings of an answer for the caller
// (WithWarnings), and logs and counts them (Config.Warned), if there are
// any.
func (c *Client) logWarnings(ctx context.Context, cl call, requestID string, warnings json.RawMessage) {
	noteWarnings(ctx, warnings)
	if !hasWarnings(warnings) {
		return
	}
	if c.warned != nil {
		n, ok := warningCount(warnings)
		if !ok {
			n = 1
		}
		c.warned(cl.op, n)
	}
	var b bytes.Buffer
	if json.Compact(&b, warnings) != nil {
		b.Reset()
		b.Write(warnings)
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "crm answer carries warnings",
		slog.String("op", cl.op), slog.String("customer_id", cl.id),
		slog.String("request_id", requestID), slog.String("warnings", b.String()))
}

// send makes the call and decodes the data of its answer.
func send[T any, P interface {
	*T
	checker
}](ctx context.Context, c *Client, cl call) (*T, error) {
	ans, err := c.exchange(ctx, cl)
	if err != nil {
		return nil, err
	}
	env, err := decodeOK[T, P](ans.body)
	rid := env.RequestID
	if rid == "" {
		rid = ans.header.Get("X-Request-Id")
	}
	if err != nil {
		e := &Error{Op: cl.op, ID: cl.id, Status: ans.status, RequestID: rid,
			Err: fmt.Errorf("%w: %w", ErrBadResponse, err)}
		c.done(ctx, cl, ans.status, rid, len(ans.body), ans.took, e)
		c.logWarnings(ctx, cl, rid, env.Warnings)
		return nil, e
	}
	c.done(ctx, cl, ans.status, rid, len(ans.body), ans.took, nil)
	c.logWarnings(ctx, cl, rid, env.Warnings)
	return env.Data, nil
}
