package crm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Defaults of Config's zero fields.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxConns         = 64
	DefaultUserAgent        = "crm-bridge/dev"
	DefaultMaxResponseBytes = 16 << 20
	DefaultPageRetries      = 4
)

// Config configures a Client. BaseURL, APIKey and OrgID are required; every
// other zero field means its default.
type Config struct {
	// BaseURL is the CRM's base URL, http or https, with an optional path
	// prefix; "/v1/crm/customers..." is appended. No query, fragment or
	// user info.
	BaseURL string
	// APIKey is sent as header api-key. It never appears in errors or logs.
	APIKey string
	// OrgID is sent as header organization-id.
	OrgID string
	// Timeout bounds one request, from sending it to reading the last byte
	// of its answer. Default: 10s.
	Timeout time.Duration
	// Rate is the most requests per second the client sends (0: no limit),
	// with a burst of a tenth of it (at least 1). When several processes
	// share it, Client.SetProcesses divides it among them. A 429 halves
	// it for every request, and it then recovers gradually; the request
	// that got the 429 is retried by the caller after its Retry-After.
	// Default: 0.
	Rate float64
	// MaxConns is the most connections to the CRM, open and idle alike.
	// Default: 64.
	MaxConns int
	// UserAgent is sent as header User-Agent. Default: "crm-bridge/dev".
	UserAgent string
	// MaxResponseBytes caps an answer's body; a longer one fails with
	// ErrBadResponse instead of being read into memory. Default: 16 MiB
	// (a page of 1,000 customers is about 0.5 MiB).
	MaxResponseBytes int64
	// Logger receives a Warn for every answer with non-empty warnings
	// (attributes op, request_id, warnings) and a Debug per request (op,
	// customer_id, status, request_id, bytes, duration), and an Info when
	// SetProcesses changes the rate's share (budget, processes, share).
	// Default: discard.
	Logger *slog.Logger
	// Observe, when set, is called once per request sent, with the
	// operation (create, get, update, delete, list, export), the HTTP
	// status (0 when no answer came) and how long it took: for metrics.
	Observe func(op string, status int, took time.Duration)
	// Warned, when set, is called for every answer with non-empty
	// warnings, with the operation and how many there are (1 when they are
	// not an array): for metrics.
	Warned func(op string, n int)
	// TracerProvider makes a client span per request, "crm <op>", a child
	// of the span in the call's context. Default: the no-op provider. The
	// request carries the context's trace context as traceparent (and
	// tracestate) either way.
	TracerProvider trace.TracerProvider
	// PageRetries is how many more times Export asks for a page after a
	// transient failure of it (no answer, a timeout, 408, 429, 5xx), with
	// backoff from 250 ms doubling up to 5 s and never sooner than the
	// answer's Retry-After, before it gives the failure to its caller. A
	// long export then survives a CRM that fails a few requests in a
	// hundred, instead of starting over. Default: 4; -1: none.
	PageRetries int
	// Transport, when set, is used instead of the tuned transport that New
	// builds (see NewTransport), e.g. a validating or fault-injecting
	// wrapper around NewTransport(cfg). Default: NewTransport(cfg).
	Transport http.RoundTripper
}

// Validate reports every problem of c at once (errors.Join), each naming
// its field. Secrets are never part of the message.
func (c Config) Validate() error {
	var p fieldErrors
	if c.Rate < 0 {
		p.add("Rate", "%v is negative", c.Rate)
	}
	if c.BaseURL == "" {
		p.add("BaseURL", "required")
	} else if err := checkBaseURL(c.BaseURL); err != nil {
		p.add("BaseURL", "%v", err)
	}
	c.checkHeaders(&p)
	c.checkLimits(&p)
	return errors.Join(p...)
}

// fieldErrors collects what Validate finds, in the order it checks.
type fieldErrors []error

// add records a problem of the Config field, described by format and args.
func (p *fieldErrors) add(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("crm: Config.%s: "+format, append([]any{field}, args...)...))
}

// checkHeaders checks the values every request carries as headers: the API
// key and the organization, both required, and the User-Agent. The key is
// never shown.
func (c Config) checkHeaders(p *fieldErrors) {
	headers := []struct {
		field, value     string
		required, secret bool
	}{
		{"APIKey", c.APIKey, true, true},
		{"OrgID", c.OrgID, true, false},
		{"UserAgent", c.UserAgent, false, false},
	}
	for _, h := range headers {
		switch {
		case h.value == "" && h.required:
			p.add(h.field, "required")
		case validHeaderValue(h.value):
		case h.secret:
			p.add(h.field, "holds characters not allowed in an HTTP header")
		default:
			p.add(h.field, "%q holds characters not allowed in an HTTP header", h.value)
		}
	}
}

// checkLimits checks the timeout, the connection and answer sizes, which
// may not be negative, and the page retries.
func (c Config) checkLimits(p *fieldErrors) {
	if c.Timeout < 0 {
		p.add("Timeout", "%s is negative", c.Timeout)
	}
	if c.MaxConns < 0 {
		p.add("MaxConns", "%d is negative", c.MaxConns)
	}
	if c.MaxResponseBytes < 0 {
		p.add("MaxResponseBytes", "%d is negative", c.MaxResponseBytes)
	}
	if c.PageRetries < -1 {
		p.add("PageRetries", "%d: want -1 (none), 0 (the default) or more", c.PageRetries)
	}
}

func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	switch {
	case u.User != nil: // first: the other messages show the URL
		return errors.New("must not hold user info")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme must be http or https", raw)
	case u.Host == "":
		return fmt.Errorf("%q: no host", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%q: must not hold a query or fragment", raw)
	}
	return nil
}

// validHeaderValue reports whether v can be sent as a header value as is:
// no control characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	switch c.PageRetries {
	case 0:
		c.PageRetries = DefaultPageRetries
	case -1:
		c.PageRetries = 0
	}
	return c
}
