package crmsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/gormic/crm-bridge/internal/crmspec"
)

// request is one request being served.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	id       string
	op       Operation
	ex       *crmspec.Exchange // nil when the request matched no operation
	warnings []Warning
}

// envelope is the body of every successful answer.
type envelope struct {
	App        string    `json:"app"`
	Service    string    `json:"service"`
	Warnings   []Warning `json:"warnings"`
	InstanceID string    `json:"instanceId"`
	RequestID  string    `json:"requestId"`
	Data       any       `json:"data"`
}

// errorBody is the body of every error answer: the spec's
// {"error":{"code"}} plus a message and the request id.
type errorBody struct {
	Error     errorDetail `json:"error"`
	RequestID string      `json:"requestId"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Codes the simulator sends besides the CRM's functional codes.
const (
	codeBadRequest   = "BAD_REQUEST"
	codeUnauthorized = "UNAUTHORIZED"
	codeForbidden    = "FORBIDDEN"
	codeNoRoute      = "NO_ROUTE"
	codeTooLarge     = "PAYLOAD_TOO_LARGE"
	codeRateLimited  = "RATE_LIMITED"
	codeUnavailable  = "UNAVAILABLE"
	codeInternal     = "INTERNAL"
)

// ok answers 200 with data in the envelope.
func (s *Simulator) ok(rq *request, data any) {
	warnings := rq.warnings
	if warnings == nil {
		warnings = []Warning{}
	}
	s.send(rq, http.StatusOK, "", envelope{
		App:        s.opts.App,
		Service:    s.opts.Service,
		Warnings:   warnings,
		InstanceID: s.opts.InstanceID,
		RequestID:  rq.id,
		Data:       data,
	})
}

// fail answers status with an error body.
func (s *Simulator) fail(rq *request, status int, code, message string) {
	s.send(rq, status, code, errorBody{Error: errorDetail{Code: code, Message: message}, RequestID: rq.id})
}

// send encodes v, validates the answer when asked to, writes it and counts
// it. code is the error code of an error answer.
func (s *Simulator) send(rq *request, status int, code string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, code = http.StatusInternalServerError, codeInternal
		body = fmt.Appendf(nil, `{"error":{"code":%q,"message":%q},"requestId":%q}`, code, err.Error(), rq.id)
	}
	body = append(body, '\n')
	h := rq.w.Header()
	h.Set("Content-Type", "application/json")
	s.checkResponse(rq, status, code, h, body)
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(body) // the client may be gone; nothing to do about it
	s.stats.add(rq.op, status)
	s.log.Debug("crmsim: request", "request_id", rq.id, "op", string(rq.op), "method", rq.r.Method,
		"path", rq.r.URL.Path, "status", status, "code", code)
}

// checkResponse validates an answer against the document when
// Options.ValidateResponses is set, and keeps the failures. It skips what
// the simulator sends outside the document on purpose: statuses the
// operation does not declare, and 400s whose code the operation does not
// declare (see the package doc).
func (s *Simulator) checkResponse(rq *request, status int, code string, h http.Header, body []byte) {
	if !s.opts.ValidateResponses || rq.ex == nil {
		return
	}
	if status == http.StatusBadRequest && !s.declared[rq.op][code] {
		return
	}
	err := s.validator.ValidateResponse(context.WithoutCancel(rq.r.Context()), rq.ex, status, h, body)
	if err == nil || errors.Is(err, crmspec.ErrUndeclaredStatus) {
		return
	}
	err = fmt.Errorf("crmsim: response %s %d (request %s): %w", rq.op, status, rq.id, err)
	s.log.Error("crmsim: response does not match the document", "request_id", rq.id, "op", string(rq.op),
		"status", status, "error", err)
	s.respMu.Lock()
	defer s.respMu.Unlock()
	if len(s.respErrs) < maxResponseErrors {
		s.respErrs = append(s.respErrs, err)
	}
}

// maxResponseErrors caps what ResponseErrors keeps.
const maxResponseErrors = 100

// ResponseErrors returns the failures of response validation so far (the
// first 100), oldest first; always empty unless
// Options.ValidateResponses is set.
func (s *Simulator) ResponseErrors() []error {
	s.respMu.Lock()
	defer s.respMu.Unlock()
	return append([]error(nil), s.respErrs...)
}
