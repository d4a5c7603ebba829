package crm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels matched with errors.Is against the errors the Client returns.
// Every failure of a CRM call is an *Error; these describe it. ErrTimeout,
// ErrBadResponse and ErrRepeatedNext are also wrapped in Error.Err, so
// their text has no "crm: " prefix of its own.
var (
	// ErrNotFound: the CRM answered with its error envelope and code
	// NotFound ({"error":{"code":"NotFound"}}, as a 400 or a 404). A 404
	// without that envelope is ErrMisrouted, never ErrNotFound.
	ErrNotFound = errors.New("crm: customer not found")
	// ErrMisrouted: HTTP 404 without the CRM's error envelope with code
	// NotFound (no envelope, or another code such as NO_ROUTE). The request
	// did not reach the CRM's customer API (a base URL with a wrong path, a
	// gateway with no route), so it says nothing about the customer: a
	// configuration problem, like ErrUnauthorized.
	ErrMisrouted = errors.New("crm: HTTP 404 without the CRM's error envelope")
	// ErrDuplicatePhone: a create was refused with code DUPLICATE_PHONE.
	ErrDuplicatePhone = errors.New("crm: duplicate phone")
	// ErrNoChanges: an update was refused with code NoChanges (it changed
	// nothing).
	ErrNoChanges = errors.New("crm: no changes")
	// ErrCompactInactive: code COMPACT_INACTIVE.
	ErrCompactInactive = errors.New("crm: compact inactive")
	// ErrMissingID: code MISSING_ID, also returned without a request for an
	// empty customer id.
	ErrMissingID = errors.New("crm: missing id")
	// ErrNoCreateAction: code NO_CREATE_ACTION.
	ErrNoCreateAction = errors.New("crm: no create action")
	// ErrUnauthorized: HTTP 401 or 403, a configuration problem (api-key,
	// organization-id).
	ErrUnauthorized = errors.New("crm: unauthorized")
	// ErrRateLimited: HTTP 429; Error.RetryAfter says how long to wait.
	ErrRateLimited = errors.New("crm: rate limited")
	// ErrUnavailable: no usable answer: HTTP 5xx, a connection refused,
	// reset or dropped, or a 2xx answer that could not be read
	// (ErrBadResponse).
	ErrUnavailable = errors.New("crm: unavailable")
	// ErrTimeout: no answer within Config.Timeout, or HTTP 408. The caller's
	// own context ending is never ErrTimeout: that error wraps ctx.Err().
	ErrTimeout = errors.New("timeout")
	// ErrBadResponse: a 2xx answer whose body is not what the document
	// says (not JSON, no data, a customer without id, over
	// Config.MaxResponseBytes, ...). It also matches ErrUnavailable.
	ErrBadResponse = errors.New("unusable answer")
	// ErrRepeatedNext: an export page's next repeats an offset already
	// followed in the same pass, which would loop forever. It also matches
	// ErrBadResponse and ErrUnavailable.
	ErrRepeatedNext = errors.New("export next repeats an earlier offset")
)

// Result codes of the bridge's contract ("Results") for failures that carry
// no CRM functional code. See Error.ResultCode.
const (
	ResultUnavailable = "CRM_UNAVAILABLE"
	ResultTimeout     = "CRM_TIMEOUT"
	// ResultCanceled is not a contract code: the caller gave up, and no
	// result should be published for that.
	ResultCanceled = "CANCELED"
)

// Error is the one error type of the package: every failed CRM call returns
// an *Error (possibly wrapped). Its exported fields decide everything
// (Is, Classify, ResultCode), so a test fake may build one as a literal.
type Error struct {
	// Op is the operation: "create", "get", "update", "delete", "list" or
	// "export".
	Op string
	// ID is the customer id of a get, update or delete.
	ID string
	// Status is the HTTP status of the answer; 0 when there was none.
	Status int
	// Code is the CRM's functional error code (error.code of a 4xx answer),
	// e.g. CodeNotFound; empty otherwise.
	Code string
	// RequestID is the CRM's requestId (or X-Request-Id header), if any.
	RequestID string
	// RetryAfter is the answer's Retry-After, parsed and capped at
	// MaxRetryAfter; 0 when absent, invalid or in the past.
	RetryAfter time.Duration
	// Message describes the failure: the CRM's error message or the start of
	// an unexpected body.
	Message string
	// Err is the underlying error: the network error, an error wrapping
	// ErrTimeout or ErrBadResponse, or the caller's ctx.Err().
	Err error
}

// Error formats e on one line, e.g.
// `crm: update "cus_1": NoChanges (HTTP 400) [request r-1]` or
// `crm: create: HTTP 503 Service Unavailable (retry after 2s)`.
func (e *Error) Error() string {
	var parts []string
	switch {
	case e.Code != "" && e.Status != 0:
		parts = append(parts, e.Code+" (HTTP "+strconv.Itoa(e.Status)+")")
	case e.Code != "":
		parts = append(parts, e.Code)
	case e.Status != 0 && !isSuccess(e.Status):
		parts = append(parts, strings.TrimSpace("HTTP "+strconv.Itoa(e.Status)+" "+http.StatusText(e.Status)))
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	var b strings.Builder
	b.WriteString("crm: " + e.Op)
	if e.ID != "" {
		b.WriteString(" " + strconv.Quote(e.ID))
	}
	for _, p := range parts {
		b.WriteString(": " + p)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" (retry after " + e.RetryAfter.String() + ")")
	}
	if e.RequestID != "" {
		b.WriteString(" [request " + e.RequestID + "]")
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether e matches one of the package's sentinels (see each
// sentinel's doc). Sentinels in e.Err match through Unwrap.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeNotFound
	case ErrMisrouted:
		return e.misrouted()
	case ErrDuplicatePhone:
		return e.Code == CodeDuplicatePhone
	case ErrNoChanges:
		return e.Code == CodeNoChanges
	case ErrCompactInactive:
		return e.Code == CodeCompactInactive
	case ErrMissingID:
		return e.Code == CodeMissingID
	case ErrNoCreateAction:
		return e.Code == CodeNoCreateAction
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrTimeout:
		return e.Status == http.StatusRequestTimeout
	case ErrUnavailable:
		if e.Status >= 500 && e.Status <= 599 {
			return true
		}
		return e.noAnswer() && e.Code == "" && !e.canceled() && !errors.Is(e.Err, ErrTimeout)
	}
	return false
}

// misrouted reports a 404 that does not carry the CRM's NotFound.
func (e *Error) misrouted() bool { return e.Status == http.StatusNotFound && e.Code != CodeNotFound }

// noAnswer reports that the CRM gave no usable answer: no status at all, or
// a 2xx that could not be read.
func (e *Error) noAnswer() bool { return e.Status == 0 || isSuccess(e.Status) }

// canceled reports that the caller's context ended the call.
func (e *Error) canceled() bool {
	return e.noAnswer() && e.Code == "" &&
		(errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded))
}

// ResultCode returns the code for the error of a command's result (the
// contract's "Results"):
//   - the CRM's functional code when there is one (DUPLICATE_PHONE,
//     NotFound, NoChanges, ...): only an answer with the CRM's error
//     envelope has one; a bare 404 is CRM_HTTP_404;
//   - CRM_TIMEOUT when no answer came within Config.Timeout;
//   - CRM_UNAVAILABLE when there was no usable answer: connection refused,
//     reset or dropped, or a 2xx whose body could not be read;
//   - CRM_HTTP_<status> for any other answer, 5xx, 408 and 429 included:
//     when the CRM did answer, its status is the most precise fact;
//   - CANCELED (ResultCanceled, not a contract code) when the caller's
//     context ended the call.
func (e *Error) ResultCode() string {
	switch {
	case e.Code != "":
		return e.Code
	case e.canceled():
		return ResultCanceled
	case e.noAnswer() && errors.Is(e.Err, ErrTimeout):
		return ResultTimeout
	case e.noAnswer():
		return ResultUnavailable
	default:
		return "CRM_HTTP_" + strconv.Itoa(e.Status)
	}
}

// Class is what a caller should do about a failed CRM call.
type Class int

const (
	// None is the class of a nil error.
	None Class = iota
	// Transient: retry later (network errors, timeouts, 408, 429, 5xx, an
	// unreadable 2xx answer). Honour Error.RetryAfter when set.
	Transient
	// Permanent: the same request will fail again (functional 400s, other
	// 4xx, 3xx, errors that are not from the CRM).
	Permanent
	// Auth: 401 or 403. The bridge's configuration is wrong; report it
	// loudly, do not dead-letter the command, do not give up on it.
	Auth
	// Canceled: the caller's context ended the call (shutdown, or the
	// caller's own deadline); not a CRM problem.
	Canceled
	// Misrouted: a 404 without the CRM's NotFound (ErrMisrouted).
	// The base URL does not reach the CRM's API; handle it like Auth.
	Misrouted
)

// String returns "none", "transient", "permanent", "auth", "canceled" or
// "misrouted".
func (c Class) String() string {
	switch c {
	case None:
		return "none"
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Auth:
		return "auth"
	case Canceled:
		return "canceled"
	case Misrouted:
		return "misrouted"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classify is the one place that decides whether a failure is worth a
// retry. It looks through wrapping for an *Error:
//   - caller's context ended (an *Error wrapping ctx.Err(), or a bare
//     context error): Canceled;
//   - 401, 403: Auth;
//   - 404 without the functional code NotFound: Misrouted;
//   - 408, 429, 5xx: Transient;
//   - a functional code: Permanent;
//   - no answer (network error, timeout) or an unreadable 2xx: Transient.
//     An unreadable 200 may be a proxy's page or a CRM bug; either way the
//     request's outcome is unknown, exactly as when the answer is lost, so
//     it is retried like one (a create's retry must then find the customer
//     its first attempt may have made);
//   - any other status (3xx, other 4xx): Permanent.
//
// Errors that are not *Error (nor context errors) are Permanent; nil is None.
func Classify(err error) Class {
	if err == nil {
		return None
	}
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Canceled
		}
		return Permanent
	}
	switch s := e.Status; {
	case e.canceled():
		return Canceled
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return Auth
	case e.misrouted():
		return Misrouted
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || (s >= 500 && s <= 599):
		return Transient
	case e.Code != "":
		return Permanent
	case e.noAnswer():
		return Transient
	default:
		return Permanent
	}
}

func isSuccess(status int) bool { return status >= 200 && status <= 299 }
