package crmsim

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/gormic/crm-bridge/internal/crmspec"
)

var _ http.Handler = (*Simulator)(nil)

// Handler returns the simulator as an http.Handler, e.g. for httptest.
func (s *Simulator) Handler() http.Handler { return s }

// ServeHTTP answers one request as the CRM would, in this order: the
// request is validated against the document; Faults.Unauthorized answers
// 401; the latency fault waits; an invalid request is answered (404 no
// route, 413 body too large, 401 api-key, 400 anything else); a wrong
// organization-id gets 403; then the 429, 5xx and forced-error faults; then
// the operation, and a dropped connection in place of its answer when
// DropAfterApplyRate says so.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{w: w, r: r, id: s.newRequestID(), op: OpUnknown}
	w.Header().Set("Date", s.Now().Format(http.TimeFormat))
	w.Header().Set("X-Request-Id", rq.id)
	d := s.faults.decide()
	if !s.admit(rq, d) {
		return
	}
	rq.warnings = d.warnings
	s.operate(rq, d.drop)
}

// admit validates the request and applies the faults d decided that come
// before the operation, in ServeHTTP's order. It reports whether the
// operation may go ahead; when not, the request has been answered (or the
// client went away).
func (s *Simulator) admit(rq *request, d decision) bool {
	r := rq.r
	if r.Body != nil {
		r.Body = http.MaxBytesReader(rq.w, r.Body, s.opts.MaxBodyBytes)
	}
	ex, err := s.validator.ValidateRequest(r.Context(), r, s.authenticate)
	if ex != nil {
		rq.ex, rq.op = ex, operationOf(ex.OperationID())
	}
	if d.unauthorized {
		s.fail(rq, http.StatusUnauthorized, codeUnauthorized, "unauthorized (injected)")
		return false
	}
	if !s.wait(rq, d.delay) {
		return false
	}
	if err != nil {
		s.reject(rq, err)
		return false
	}
	if org := r.Header.Get("organization-id"); s.opts.OrgID != "" && org != s.opts.OrgID {
		s.fail(rq, http.StatusForbidden, codeForbidden, "organization-id not accepted")
		return false
	}
	return !s.injected(rq, d)
}

// operate answers an admitted request with its operation; drop, for the
// changes, drops the connection in place of the answer once applied.
func (s *Simulator) operate(rq *request, drop bool) {
	switch rq.op {
	case OpCreate:
		s.create(rq, drop)
	case OpGet:
		s.get(rq)
	case OpUpdate:
		s.update(rq, drop)
	case OpDelete:
		s.delete(rq, drop)
	case OpList:
		s.list(rq)
	case OpExport:
		s.export(rq)
	default:
		s.fail(rq, http.StatusNotFound, codeNoRoute, "no such operation")
	}
}

// authenticate accepts Options.APIKey only, or any key when it is empty.
func (s *Simulator) authenticate(key string) error {
	if s.opts.APIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) != 1 {
		return errors.New("api-key not accepted")
	}
	return nil
}

// wait delays the request by d; it reports false, having counted the
// request, when the client went away meanwhile.
func (s *Simulator) wait(rq *request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-rq.r.Context().Done():
		s.stats.add(rq.op, StatusClientClosed)
		return false
	}
}

// reject answers a request that failed validation.
func (s *Simulator) reject(rq *request, err error) {
	var tooLarge *http.MaxBytesError
	var security *openapi3filter.SecurityRequirementsError
	switch {
	case errors.Is(err, crmspec.ErrNoRoute):
		s.fail(rq, http.StatusNotFound, codeNoRoute, firstLine(err.Error()))
	case errors.As(err, &tooLarge):
		s.fail(rq, http.StatusRequestEntityTooLarge, codeTooLarge,
			"request body over "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes")
	case errors.As(err, &security):
		s.fail(rq, http.StatusUnauthorized, codeUnauthorized, firstLine(security.Error()))
	default:
		s.fail(rq, http.StatusBadRequest, codeBadRequest, describe(err))
	}
}

// describe turns a validation error into one line per problem, without
// kin-openapi's schema dumps.
func describe(err error) string {
	var lines []string
	var walk func(prefix string, err error)
	walk = func(prefix string, err error) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, c := range e {
				walk(prefix, c)
			}
		case *openapi3filter.RequestError:
			p := "request body"
			if e.Parameter != nil {
				p = fmt.Sprintf("parameter %q in %s", e.Parameter.Name, e.Parameter.In)
			}
			switch e.Err.(type) {
			case openapi3.MultiError, *openapi3.SchemaError:
				walk(p, e.Err)
			default:
				lines = append(lines, firstLine(e.Error()))
			}
		case *openapi3.SchemaError:
			lines = append(lines, fmt.Sprintf("%s at /%s: %s", prefix, strings.Join(e.JSONPointer(), "/"), e.Reason))
		default:
			lines = append(lines, firstLine(err.Error()))
		}
	}
	walk("", err)
	return strings.Join(lines, "; ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// injected answers the request with an injected 429, 5xx or functional
// error and reports whether it did.
func (s *Simulator) injected(rq *request, d decision) bool {
	switch {
	case d.rateLimited:
		rq.w.Header().Set("Retry-After", s.retryAfter(d))
		s.fail(rq, http.StatusTooManyRequests, codeRateLimited, "rate limited (injected)")
	case d.failStatus != 0:
		s.fail(rq, d.failStatus, codeUnavailable, "unavailable (injected)")
	default:
		code := s.faults.takeForced(rq.op)
		if code == "" {
			return false
		}
		s.fail(rq, http.StatusBadRequest, code, "functional error (injected)")
	}
	return true
}

// retryAfter renders the Retry-After of a 429: whole seconds rounded up,
// or the simulator's clock plus that as an HTTP date.
func (s *Simulator) retryAfter(d decision) string {
	secs := int64((d.retryAfter + time.Second - 1) / time.Second)
	if d.httpDate {
		at := s.opts.Now().Add(s.ClockSkew()).UTC().Truncate(time.Second)
		return at.Add(time.Duration(secs+1) * time.Second).Format(http.TimeFormat)
	}
	return strconv.FormatInt(secs, 10)
}
