// This file holds how the problems found in a body become a ValidationError
// and the messages it shows.

package commands

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gormic/crm-bridge/internal/streams"
)

// problem is a FieldError before its message is written.
type problem struct {
	field  string
	rule   string
	detail string // rule "type": the kind received
}

// validationError sorts the problems, keeps the first
// maxFieldErrors and writes their messages.
func (d *decoded) validationError() *ValidationError {
	ps := d.problems
	for _, name := range d.unknown.least {
		ps = append(ps, problem{field: name, rule: "unknown"})
	}
	slices.SortFunc(ps, func(a, b problem) int {
		if c := strings.Compare(a.field, b.field); c != 0 {
			return c
		}
		return strings.Compare(a.rule, b.rule)
	})
	total := len(d.problems) + d.unknown.count() // no two alike
	shown := ps[:min(len(ps), maxFieldErrors)]
	fields := make([]FieldError, len(shown), len(shown)+1)
	for i, p := range shown {
		fields[i] = FieldError{Field: p.field, Rule: p.rule, Message: d.message(p)}
	}
	msg := fields[0].Message
	switch total {
	case 1:
	case 2:
		msg += " (and 1 more problem)"
	default:
		msg += " (and " + strconv.Itoa(total-1) + " more problems)"
	}
	if more := total - len(shown); more > 0 {
		fields = append(fields, FieldError{Rule: "too_many", Message: "... and " + strconv.Itoa(more) + " more"})
	}
	return &ValidationError{Message: msg, Fields: fields}
}

// valueMessages are the messages of the value rules, which each hold for
// one field.
var valueMessages = map[string]string{
	"phone": "phone must hold 4 to 20 digits, and besides digits only + - . ( ) and spaces",
	"date":  "birthDate must be a real date written YYYY-MM-DD",
	"email": "email must be an address such as name@example.com",
	"oneof": "gender must be F or M",
}

// message writes the message of one problem.
func (d *decoded) message(p problem) string {
	if m, ok := valueMessages[p.rule]; ok {
		return m
	}
	f := p.field
	switch p.rule {
	case "unknown":
		return strconv.Quote(f) + " is not a field of " + article(d.op) + " command"
	case "duplicate":
		return f + " appears more than once"
	case "type":
		want := "a string"
		if f == "unsubscribed" {
			want = "true or false"
		}
		return f + " must be " + want + ", not " + p.detail
	case "null":
		return f + " must not be null in " + article(d.op) + " command"
	case "required":
		if d.seen&bit(mustLookup(f)) != 0 {
			return f + " must not be empty or blank"
		}
		return f + " is required"
	case "eq_subject":
		return "id must be left out or equal the subject's customer id " + strconv.Quote(d.customerID)
	}
	return f + " is invalid (" + p.rule + " " + p.detail + ")"
}

// article returns op with "a" or "an" before it.
func article(op string) string {
	if op == streams.OpUpdate {
		return "an " + op
	}
	return "a " + op
}
