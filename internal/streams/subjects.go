package streams

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Ops, as they appear in subjects, results and dead letters.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Subjects builds and parses the bridge's subjects under one prefix
// (BRIDGE_SUBJECT_PREFIX). Customer ids are percent-encoded where they are
// not valid subject tokens (see EncodeToken), so a hostile id can never add
// a token or a wildcard to a subject.
type Subjects struct {
	Prefix string
}

// Create returns <prefix>.customer.create.
func (s Subjects) Create() string { return s.Prefix + ".customer.create" }

// Update returns <prefix>.customer.update.<id>.
func (s Subjects) Update(id string) string { return s.Prefix + ".customer.update." + EncodeToken(id) }

// Delete returns <prefix>.customer.delete.<id>.
func (s Subjects) Delete(id string) string { return s.Prefix + ".customer.delete." + EncodeToken(id) }

// Changed returns <prefix>.customer.changed.<id>.
func (s Subjects) Changed(id string) string {
	return s.Prefix + ".customer.changed." + EncodeToken(id)
}

// AllChanged returns <prefix>.customer.changed.*: every customer's change
// events.
func (s Subjects) AllChanged() string { return s.Prefix + ".customer.changed.*" }

// Result returns <prefix>.customer.result.
func (s Subjects) Result() string { return s.Prefix + ".customer.result" }

// DLQ returns <prefix>.customer.dlq.<op>.
func (s Subjects) DLQ(op string) string { return s.Prefix + ".customer.dlq." + op }

// ErrBadSubject is returned (wrapped) by ParseCommand for a subject that is
// not a command subject, or whose customer id does not decode.
var ErrBadSubject = errors.New("not a command subject")

// ParseCommand returns the op and the decoded customer id of a command
// subject; the id is empty for create.
func (s Subjects) ParseCommand(subject string) (op, id string, err error) {
	rest, ok := strings.CutPrefix(subject, s.Prefix+".customer.")
	if !ok {
		return "", "", fmt.Errorf("%w: %q", ErrBadSubject, subject)
	}
	op, tok, hasID := strings.Cut(rest, ".")
	switch {
	case op == OpCreate && !hasID:
		return op, "", nil
	case (op == OpUpdate || op == OpDelete) && hasID && !strings.Contains(tok, "."):
		id, err := DecodeToken(tok)
		if err != nil {
			return op, "", fmt.Errorf("%w: %q: %v", ErrBadSubject, subject, err)
		}
		return op, id, nil
	}
	return "", "", fmt.Errorf("%w: %q", ErrBadSubject, subject)
}

// EncodeToken writes s as one subject token: '%', '.', '*', '>', space,
// and the other bytes NATS does not allow in a token (control characters
// and DEL) become %XX; everything else is kept, so ordinary ids are
// unchanged. An empty s gives an empty (invalid) token: callers reject empty
// ids first.
func EncodeToken(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DecodeToken reverses EncodeToken. It accepts any %XX escape, and fails on
// an empty token, a malformed escape, a byte that cannot stand in a token,
// or a result that is empty or not UTF-8.
func DecodeToken(tok string) (string, error) {
	if tok == "" {
		return "", errors.New("empty customer id")
	}
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if needsEscape(tok[i]) {
				return "", fmt.Errorf("byte %q not allowed in a subject token", tok[i])
			}
		}
		if !utf8.ValidString(tok) {
			return "", errors.New("customer id is not UTF-8")
		}
		return tok, nil
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '%':
			if i+2 >= len(tok) {
				return "", fmt.Errorf("truncated escape at %d", i)
			}
			hi, ok1 := unhex(tok[i+1])
			lo, ok2 := unhex(tok[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("malformed escape %q", tok[i:i+3])
			}
			b = append(b, hi<<4|lo)
			i += 2
		case needsEscape(c):
			return "", fmt.Errorf("byte %q not allowed in a subject token", c)
		default:
			b = append(b, c)
		}
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return "", errors.New("customer id is empty or not UTF-8")
	}
	return string(b), nil
}

func needsEscape(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '%' || c == '.' || c == '*' || c == '>'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
