package crm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// envelope is every 2xx answer: {app, service, warnings, instanceId,
// requestId, data}. Only what the client uses is decoded.
type envelope[T any] struct {
	RequestID string          `json:"requestId"`
	Warnings  json.RawMessage `json:"warnings"`
	Data      *T              `json:"data"`
}

// checker is implemented by every answer's data: it reports what decoding
// alone does not catch (a required member missing, a customer without id).
type checker interface{ check() error }

// decodeOK decodes a 2xx answer's body in one pass. The envelope is
// returned even on failure, with whatever could be read (request id,
// warnings). An export page is decodeExportPage's.
func decodeOK[T any, P interface {
	*T
	checker
}](body []byte) (envelope[T], error) {
	var env envelope[T]
	if e, ok := any(&env).(*envelope[ExportPage]); ok {
		var err error
		*e, err = decodeExportPage(body)
		return env, err
	}
	return decodeStructs[T, P](body)
}

// decodeStructs is decodeOK through encoding/json, then recordSpans.
func decodeStructs[T any, P interface {
	*T
	checker
}](body []byte) (envelope[T], error) {
	var env envelope[T]
	if err := json.Unmarshal(body, &env); err != nil {
		return env, err
	}
	if env.Data == nil {
		return env, errors.New("no data")
	}
	if err := P(env.Data).check(); err != nil {
		return env, err
	}
	if h, ok := any(P(env.Data)).(rawHolder); ok {
		spans, err := recordSpans(body, h.rawMember())
		if err != nil {
			return env, err
		}
		return env, h.setRecords(body, spans)
	}
	return env, nil
}

// rawHolder is data that holds customer records, whose Raw decodeOK sets.
type rawHolder interface {
	// rawMember names data's member holding the records.
	rawMember() string
	// setRecords sets each record's Raw from its span of body.
	setRecords(body []byte, spans []span) error
}

// createData is CreateUser_Data.
type createData struct {
	Succeed *bool  `json:"succeed"`
	ID      string `json:"id"`
}

func (d *createData) check() error {
	if d.ID == "" {
		return errors.New("no id")
	}
	return checkSucceed(d.Succeed)
}

// doneData is UpdateUser_Data and DeleteUser_Data.
type doneData struct {
	Succeed *bool `json:"succeed"`
}

func (d *doneData) check() error { return checkSucceed(d.Succeed) }

// checkSucceed accepts a missing succeed (the document requires it, but its
// absence says nothing bad) and refuses an explicit false: a 2xx whose data
// says the operation did not succeed is not a success.
func checkSucceed(s *bool) error {
	if s != nil && !*s {
		return errors.New("data.succeed is false")
	}
	return nil
}

// getData is GetUser_Data.
type getData struct {
	User *Customer `json:"user"`
}

func (d *getData) check() error {
	if d.User == nil {
		return errors.New("no user")
	}
	return checkIDs([]Customer{*d.User})
}

func (d *getData) rawMember() string { return "user" }
func (d *getData) setRecords(body []byte, spans []span) error {
	rec := []Customer{{}}
	if err := setRaw(body, spans, rec); err != nil {
		return err
	}
	d.User.Raw = rec[0].Raw
	return nil
}

func (p *ListPage) check() error                                 { return checkIDs(p.Users) }
func (p *ListPage) rawMember() string                            { return "users" }
func (p *ListPage) setRecords(body []byte, spans []span) error   { return setRaw(body, spans, p.Users) }
func (p *ExportPage) check() error                               { return checkIDs(p.Items) }
func (p *ExportPage) rawMember() string                          { return "items" }
func (p *ExportPage) setRecords(body []byte, spans []span) error { return setRaw(body, spans, p.Items) }

// checkIDs refuses records without an id (or null records): nothing can be
// done with them, and passing them on would make "" look like a customer.
func checkIDs(cs []Customer) error {
	for i := range cs {
		if cs[i].ID == "" {
			return fmt.Errorf("record %d has no id", i)
		}
	}
	return nil
}

// errorBody is what the client reads of a non-2xx answer: the documented
// {"error":{"code"}} plus what such bodies commonly hold.
type errorBody struct {
	RequestID string          `json:"requestId"`
	Warnings  json.RawMessage `json:"warnings"`
	Error     json.RawMessage `json:"error"`
	Message   string          `json:"message"`
}

// errorFromAnswer builds the *Error of a non-2xx answer. It never fails: a
// body that cannot be read leaves Code empty, and its start goes to Message.
func errorFromAnswer(op, id string, status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{
		Op: op, ID: id, Status: status,
		RetryAfter: ParseRetryAfter(header.Get("Retry-After"), now),
	}
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		e.Message = snippet(body)
	} else {
		e.Code, e.Message = codeAndMessage(eb.Error, status)
		if e.Message == "" && eb.Message != "" {
			e.Message = snippet([]byte(eb.Message))
		}
		e.RequestID = eb.RequestID
	}
	if e.RequestID == "" {
		e.RequestID = header.Get("X-Request-Id")
	}
	return e
}

// codeAndMessage reads the error member of a non-2xx answer with the given
// status: an object whose code is the functional code of a 4xx when it is
// valid (otherwise it goes to the message, before the object's message),
// or a string, the message. Anything else gives neither.
func codeAndMessage(member json.RawMessage, status int) (code, message string) {
	var obj struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	}
	var str string
	switch {
	case json.Unmarshal(member, &obj) == nil:
		c, _ := obj.Code.(string)
		if status >= 400 && status <= 499 && validCode(c) {
			code = c
		} else if c != "" {
			message = "code " + snippet([]byte(c))
		}
		if obj.Message != "" {
			message = strings.TrimSpace(message + " " + snippet([]byte(obj.Message)))
		}
	case json.Unmarshal(member, &str) == nil:
		message = snippet([]byte(str))
	}
	return code, message
}

// validCode accepts a functional code that is safe to pass on as a result
// code and a header value: 1 to 64 printable ASCII characters, no space.
func validCode(code string) bool {
	if code == "" || len(code) > 64 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] <= ' ' || code[i] >= 0x7f {
			return false
		}
	}
	return true
}

// snippet returns the start of b as one printable line of at most 200
// bytes, for an error message.
func snippet(b []byte) string {
	const max = 200
	b = bytes.TrimSpace(b)
	var s strings.Builder
	space := false
	for len(b) > 0 && s.Len() < max {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n == 1, unicode.IsSpace(r), !unicode.IsPrint(r):
			space = true
			continue
		case space && s.Len() > 0:
			s.WriteByte(' ')
		}
		space = false
		s.WriteRune(r)
	}
	if len(b) > 0 {
		s.WriteString("...")
	}
	return s.String()
}

// warningsOf returns the warnings member of a body, if it is a JSON object
// that has one.
func warningsOf(body []byte) json.RawMessage {
	var w struct {
		Warnings json.RawMessage `json:"warnings"`
	}
	if json.Unmarshal(body, &w) != nil {
		return nil
	}
	return w.Warnings
}

// hasWarnings reports whether raw holds something other than nothing,
// null or an empty array.
func hasWarnings(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, string(raw) == "null":
		return false
	case raw[0] == '[':
		var ws []json.RawMessage
		return json.Unmarshal(raw, &ws) != nil || len(ws) > 0
	}
	return true
}
