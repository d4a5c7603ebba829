package queries

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gormic/crm-bridge/internal/crm"
)

// Error codes of the answers, as the contract's "Queries" names them, and
// TooLarge, where the contract is silent.
const (
	CodeValidation = "VALIDATION"
	CodeNotFound   = "NotFound"
	CodeNotReady   = "NOT_READY"
	// CodeTooLarge answers a get or find whose reply would exceed the
	// server's maximum payload (a record close to it, or very many
	// customers sharing a phone): status 500.
	CodeTooLarge = "TOO_LARGE"
)

// Error is a query's error answer: the service error headers carry Status
// and Code, the body is {"error": {"code", "message"}}.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeValidation, Message: fmt.Sprintf(format, args...)}
}

func notReady(format string, args ...any) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeNotReady, Message: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeTooLarge, Message: fmt.Sprintf(format, args...)}
}

// crmFailure maps a fresh get's CRM error: the CRM's enveloped NotFound
// is 404 NotFound; anything else is 503 with a CRM_ code: CRM_TIMEOUT,
// CRM_UNAVAILABLE, CRM_HTTP_<status>, or CRM_<code> for another
// functional code.
func crmFailure(id string, err error) *Error {
	var e *crm.Error
	if !errors.As(err, &e) {
		return &Error{Status: http.StatusServiceUnavailable, Code: crm.ResultUnavailable, Message: err.Error()}
	}
	code := e.ResultCode()
	switch {
	case e.Code == crm.CodeNotFound:
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("the CRM has no customer %q", id)}
	case e.Code != "":
		code = "CRM_" + e.Code
	case code == crm.ResultCanceled:
		code = crm.ResultTimeout
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: code, Message: err.Error()}
}

// body returns e's answer body.
func (e *Error) body() []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
	return b
}

func (e *Error) status() string { return strconv.Itoa(e.Status) }
