package commands

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gormic/crm-bridge/internal/deadletter"
)

// Statuses of a Result.
const (
	// StatusApplied: the CRM holds the change.
	StatusApplied = "applied"
	// StatusRejected: the command can never succeed; it is dead-lettered.
	StatusRejected = "rejected"
	// StatusFailed: the bridge gave up on a transient problem; it is
	// dead-lettered.
	StatusFailed = "failed"
)

// CodeValidation is ResultError.Code for a body or subject that Decode or
// the subject parser rejected.
const CodeValidation = "VALIDATION"

// Header names the bridge reads and writes on commands, results and dead
// letters (see the contract's "Results"). Those of dead letters are
// package deadletter's; they are named here too for the readers of
// results.
const (
	// HeaderCommandID carries the command id on results and dead letters.
	HeaderCommandID = deadletter.HeaderCommandID
	// HeaderReplyTo is the optional subject a command's result is also
	// published to.
	HeaderReplyTo = "Reply-To"
	// HeaderDlqReason is a dead letter's reason, for a person.
	HeaderDlqReason = deadletter.HeaderReason
	// HeaderDlqStatus is a dead letter's result status: rejected or failed.
	HeaderDlqStatus = deadletter.HeaderStatus
	// HeaderOriginalSubject is the subject a dead letter was published to
	// as a command.
	HeaderOriginalSubject = deadletter.HeaderOriginalSubject
	// HeaderReplayOf is the command id of the dead letter that a replayed
	// command republishes.
	HeaderReplayOf = deadletter.HeaderReplayOf
)

// Result is the outcome of one command, as published on the result subject
// and on the command's Reply-To. schemas/result.schema.json describes its
// JSON.
type Result struct {
	// CommandID is the command's Nats-Msg-Id, or its stream sequence.
	CommandID string `json:"commandId"`
	// Op is "create", "update" or "delete".
	Op string `json:"op"`
	// Status is StatusApplied, StatusRejected or StatusFailed.
	Status string `json:"status"`
	// CustomerID is the subject's id for update and delete, the new id for
	// an applied create, and empty (left out) otherwise.
	CustomerID string `json:"customerId,omitempty"`
	// Attempts counts the CRM calls made; 0 when nothing was sent.
	Attempts int `json:"attempts"`
	// Error says why the command was not applied; nil (null) when applied.
	Error *ResultError `json:"error"`
	// Warnings are the warnings of the CRM's last answer to the command's
	// calls, verbatim (a non-empty JSON array); nil (left out) when that
	// answer had none.
	Warnings json.RawMessage `json:"warnings,omitempty"`
	// FinishedAt is when the bridge decided the result. It is encoded in
	// UTC with exactly three fractional digits (truncated), such as
	// 2026-11-27T10:00:00.123Z.
	FinishedAt time.Time `json:"finishedAt"`
}

// ResultError is a Result's error.
type ResultError struct {
	// Code is CodeValidation, the CRM's functional error code
	// (DUPLICATE_PHONE, NotFound, ...), or for a failed command
	// CRM_UNAVAILABLE, CRM_TIMEOUT or CRM_HTTP_<status>.
	Code string `json:"code"`
	// Message says what went wrong, for a person.
	Message string `json:"message"`
	// Fields lists the problems with single fields of a rejected body; it
	// is encoded as [] when empty, never null.
	Fields []FieldError `json:"fields"`
}

// Rejected returns the error of a result rejected for v: code VALIDATION,
// v's message and a copy of its fields.
func Rejected(v *ValidationError) *ResultError {
	fields := make([]FieldError, len(v.Fields))
	copy(fields, v.Fields)
	return &ResultError{Code: CodeValidation, Message: v.Message, Fields: fields}
}

// resultTimeLayout is RFC 3339 with exactly milliseconds, in UTC.
const resultTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON encodes r with FinishedAt in UTC with milliseconds, and an
// error's nil Fields as [].
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result // the same fields, without this method
	var out struct {
		plain
		FinishedAt string `json:"finishedAt"` // shadows plain.FinishedAt
	}
	out.plain = plain(r)
	out.FinishedAt = r.FinishedAt.UTC().Format(resultTimeLayout)
	return json.Marshal(out)
}

// MarshalJSON encodes e with nil Fields as [].
func (e ResultError) MarshalJSON() ([]byte, error) {
	type plain ResultError
	p := plain(e)
	if p.Fields == nil {
		p.Fields = []FieldError{}
	}
	return json.Marshal(p)
}

// encode returns r's JSON, as json.Marshal(r) does. The common result,
// applied without warnings and with ids that need no escaping, is written
// directly; any other goes through json.Marshal.
func (r Result) encode() ([]byte, error) {
	if r.Error != nil || r.Warnings != nil || !plainJSON(r.CommandID) || !plainJSON(r.Op) || !plainJSON(r.Status) || !plainJSON(r.CustomerID) {
		return json.Marshal(r)
	}
	b := make([]byte, 0, 160+len(r.CommandID)+len(r.CustomerID))
	b = append(b, `{"commandId":"`...)
	b = append(b, r.CommandID...)
	b = append(b, `","op":"`...)
	b = append(b, r.Op...)
	b = append(b, `","status":"`...)
	b = append(b, r.Status...)
	b = append(b, '"')
	if r.CustomerID != "" {
		b = append(b, `,"customerId":"`...)
		b = append(b, r.CustomerID...)
		b = append(b, '"')
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	b = append(b, `,"error":null,"finishedAt":"`...)
	b = r.FinishedAt.UTC().AppendFormat(b, resultTimeLayout)
	b = append(b, `"}`...)
	return b, nil
}

// plainJSON reports whether json.Marshal writes s as itself in quotes:
// printable ASCII without '"', '\\' and the characters it escapes for
// HTML ('<', '>', '&').
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
