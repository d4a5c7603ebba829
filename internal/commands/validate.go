// This file holds the exported API of decoding (Decode, Command and its
// errors) and the top-level flow. The rest is in scan.go (walking the JSON),
// fields.go (the body's fields and the CRM params built from them), rules.go
// (the value rules) and messages.go (how problems become a ValidationError).

package commands

import (
	"fmt"
	"unicode/utf8"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/streams"
)

// MaxBodyBytes is the largest command body Decode accepts (64 KiB). A larger
// body is rejected before any of it is parsed.
const MaxBodyBytes = 64 << 10

// maxFieldErrors is how many FieldErrors a ValidationError lists at most;
// the rest are summed up in one last entry with rule "too_many".
const maxFieldErrors = 20

// Command is a command whose body has been decoded and validated.
type Command struct {
	// Op is "create", "update" or "delete".
	Op string
	// CustomerID is the decoded customer id from the subject, for update
	// and delete; empty for create.
	CustomerID string
	// Create is the body of a create.
	Create crm.CreateParams
	// Update is the body of an update, without id (the client sends
	// CustomerID). At least one field is set.
	Update crm.UpdateParams
}

// FieldError is one problem with one field of a body.
type FieldError struct {
	// Field is the body's JSON field name; empty only in the last entry of
	// a list that was cut short (Rule "too_many").
	Field string `json:"field"`
	// Rule names the rule that failed: unknown, duplicate, type, null,
	// required, phone, date, email, oneof, eq_subject, or too_many.
	Rule string `json:"rule"`
	// Message says what is wrong, for a person.
	Message string `json:"message"`
}

// ValidationError says why a body was rejected. Decode returns no other
// error type.
type ValidationError struct {
	// Message says what is wrong, for a person; never empty. With field
	// errors it sums up the first of them.
	Message string
	// Fields lists the problems with single fields, sorted by Field then
	// Rule: at most 20, followed by an entry with Rule "too_many" when there
	// were more. Empty when the body as a whole is wrong: not JSON, not an
	// object, over MaxBodyBytes, invalid UTF-8, an update with no field, a
	// delete with a body other than {}, or an unusable op or customer id.
	Fields []FieldError
}

// Error returns "invalid command body: " and the Message.
func (e *ValidationError) Error() string { return "invalid command body: " + e.Message }

// Decode decodes and validates the body of a command. op is "create",
// "update" or "delete"; customerID is the decoded id from the subject of an
// update or delete (ignored for create). The rules are those of the bridge's
// contract ("Validation"), mirrored by the JSON Schemas in schemas/:
//
//   - the body is at most MaxBodyBytes of valid UTF-8, holding one JSON
//     object (a delete's body is empty or {});
//   - every name is a field of the op's CRM params, and appears once
//     (rules "unknown", "duplicate");
//   - values have the field's JSON type (rule "type"); null only where the
//     CRM allows it: create lastName and internalNote, update cityId and
//     internalNote (rule "null");
//   - create needs firstName and phone; firstName is never empty or blank
//     (rule "required");
//   - phone, birthDate, email and gender hold what their rules say (rules
//     "phone", "date", "email", "oneof");
//   - an update sets at least one field; its optional id equals customerID
//     (rule "eq_subject") and is not sent on.
//
// Absent, null and a value stay apart: nullable fields are crm.Nullable,
// the others pointers (nil when absent). The strings of a Command share one
// copy of body, which they keep alive.
//
// Decode never panics; its error is always a *ValidationError. It is safe
// for concurrent use.
func Decode(op, customerID string, body []byte) (Command, error) {
	spec, verr := checkRequest(op, customerID, body)
	switch {
	case verr != nil:
		return Command{}, verr
	case spec == nil: // a delete
		if !isEmptyObject(body) {
			return Command{}, wholeBody("a delete takes an empty body or {}, nothing else")
		}
		return Command{Op: op, CustomerID: customerID}, nil
	}
	if verr := checkObject(body); verr != nil {
		return Command{}, verr
	}

	d := &decoded{spec: spec, op: op, customerID: customerID, src: string(body)}
	d.walk(body)
	d.checkValues()
	if len(d.problems) > 0 || d.unknown.count() > 0 {
		return Command{}, d.validationError()
	}
	if op == streams.OpCreate {
		return Command{Op: op, Create: d.createParams()}, nil
	}
	if (d.present|d.null)&^bit(fieldID) == 0 {
		return Command{}, wholeBody("an update must set at least one field besides id")
	}
	return Command{Op: op, CustomerID: customerID, Update: d.updateParams()}, nil
}

// checkRequest checks what Decode checks before the body's JSON: the op,
// the customer id, the body's size and encoding. It returns the op's
// opSpec, nil for a delete.
func checkRequest(op, customerID string, body []byte) (*opSpec, *ValidationError) {
	var spec *opSpec
	switch op {
	case streams.OpCreate:
		spec = &createSpec
	case streams.OpUpdate:
		spec = &updateSpec
	case streams.OpDelete:
	default:
		return nil, wholeBody(fmt.Sprintf("unknown op %q: want create, update or delete", op))
	}
	switch {
	case op != streams.OpCreate && customerID == "":
		return nil, wholeBody(article(op) + " needs the customer id from its subject, and it is empty")
	case len(body) > MaxBodyBytes:
		return nil, wholeBody(fmt.Sprintf("body is %d bytes, over the limit of %d", len(body), MaxBodyBytes))
	case !utf8.Valid(body):
		return nil, wholeBody("body is not valid UTF-8")
	}
	return spec, nil
}

func wholeBody(msg string) *ValidationError { return &ValidationError{Message: msg} }
