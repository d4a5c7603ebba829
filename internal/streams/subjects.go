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
	// OpUnknown stands for the op of a subject that names none, in
	// results, dead letter subjects and metrics.
	OpUnknown = "unknown"
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

// ErrBadSubject is matched (errors.Is) by every error of ParseCommand: a
// subject that is not a command subject, or whose customer id token is
// not valid. The error is a *SubjectError.
var ErrBadSubject = errors.New("not a command subject")

// ErrNotCanonical is wrapped by DecodeToken's error for a token that
// decodes to an id but is not that id's one valid token, EncodeToken(id):
// a lower-case escape (%2e), or an escape of a byte that needs none (%41).
var ErrNotCanonical = errors.New("not the canonical token")

// SubjectError is ParseCommand's error. It says as much of the subject as
// could be read, so that the command's result can name it.
type SubjectError struct {
	// Subject is the subject as published.
	Subject string
	// Op is the op the subject names when it has a command subject's
	// shape (create, or update or delete followed by one non-empty
	// token), and empty otherwise.
	Op string
	// Token is the customer id token, as published, when Op is update or
	// delete: it does not decode, or it is not canonical.
	Token string
	// Canonical is the subject with the canonical token of the id that
	// Token decodes to, when Token decodes but is not canonical; empty
	// otherwise.
	Canonical string
	// Err says what is wrong.
	Err error
}

// Error reads, e.g., `subject "crm.customer.update.a%2eb": customer id
// token "a%2eb" is not the canonical token: publish to
// crm.customer.update.a%2Eb`.
func (e *SubjectError) Error() string {
	switch {
	case e.Canonical != "":
		return fmt.Sprintf("subject %q: customer id token %q is not the canonical token: publish to %s", e.Subject, e.Token, e.Canonical)
	case e.Token != "":
		return fmt.Sprintf("subject %q: customer id token %q: %v", e.Subject, e.Token, e.Err)
	}
	return fmt.Sprintf("subject %q: %v", e.Subject, e.Err)
}

// Is reports whether target is ErrBadSubject.
func (e *SubjectError) Is(target error) bool { return target == ErrBadSubject }

// Unwrap returns Err.
func (e *SubjectError) Unwrap() error { return e.Err }

// ParseCommand returns the op and the decoded customer id of a command
// subject; the id is empty for create. It fails with a *SubjectError
// (matching ErrBadSubject) for a subject that is not a command subject
// under the prefix, and for an update or delete whose customer id token is
// not valid: it does not decode, or it is not the canonical token of the
// id (ErrNotCanonical; the error names the canonical subject). For the
// latter, op is returned too.
func (s Subjects) ParseCommand(subject string) (op, id string, err error) {
	bad := func(err error) error { return &SubjectError{Subject: subject, Err: err} }
	rest, ok := strings.CutPrefix(subject, s.Prefix+".customer.")
	if !ok {
		return "", "", bad(ErrBadSubject)
	}
	op, tok, hasID := strings.Cut(rest, ".")
	switch {
	case op == OpCreate && !hasID:
		return op, "", nil
	case (op == OpUpdate || op == OpDelete) && tok != "" && !strings.Contains(tok, "."):
		id, err := DecodeToken(tok)
		if err != nil {
			e := &SubjectError{Subject: subject, Op: op, Token: tok, Err: err}
			if errors.Is(err, ErrNotCanonical) {
				e.Canonical = s.Prefix + ".customer." + op + "." + canonical(tok)
			}
			return op, "", e
		}
		return op, id, nil
	}
	return "", "", bad(ErrBadSubject)
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

// DecodeToken reverses EncodeToken: it accepts exactly the tokens that
// EncodeToken writes, so that each id has one token (and one partition).
// It fails on an empty token, a malformed escape, a byte that cannot stand
// in a token, a result that is empty or not UTF-8, and, wrapping
// ErrNotCanonical, on a token that decodes but is not EncodeToken of what
// it decodes to (lower-case hex, or an escape of a byte that needs none).
func DecodeToken(tok string) (string, error) {
	id, err := decodeAny(tok)
	if err != nil {
		return "", err
	}
	if canon := EncodeToken(id); canon != tok {
		return "", fmt.Errorf("%w: %q is written %q", ErrNotCanonical, tok, canon)
	}
	return id, nil
}

// canonical returns the canonical token of the id that tok decodes to, or
// "" when tok does not decode.
func canonical(tok string) string {
	id, err := decodeAny(tok)
	if err != nil {
		return ""
	}
	return EncodeToken(id)
}

// decodeAny decodes tok, accepting any %XX escape in either case. It
// fails on an empty token, a malformed escape, a byte that cannot stand
// in a token, or a result that is empty or not UTF-8.
func decodeAny(tok string) (string, error) {
	if tok == "" {
		return "", errors.New("empty customer id")
	}
	if !strings.Contains(tok, "%") { // the usual id: nothing to decode
		if err := checkPlain(tok); err != nil {
			return "", err
		}
		return tok, nil
	}
	b, err := unescape(tok)
	if err != nil {
		return "", err
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return "", errors.New("customer id is empty or not UTF-8")
	}
	return string(b), nil
}

// checkPlain reports why tok, which holds no escape, cannot be a token: a
// byte that must be escaped, or not UTF-8; or nil.
func checkPlain(tok string) error {
	for i := 0; i < len(tok); i++ {
		if needsEscape(tok[i]) {
			return fmt.Errorf("byte %q not allowed in a subject token", tok[i])
		}
	}
	if !utf8.ValidString(tok) {
		return errors.New("customer id is not UTF-8")
	}
	return nil
}

// unescape decodes every %XX escape of tok, in either case. It fails on a
// truncated or malformed escape, or a byte that cannot stand in a token.
func unescape(tok string) ([]byte, error) {
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '%':
			if i+2 >= len(tok) {
				return nil, fmt.Errorf("truncated escape at %d", i)
			}
			hi, ok1 := unhex(tok[i+1])
			lo, ok2 := unhex(tok[i+2])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("malformed escape %q", tok[i:i+3])
			}
			b = append(b, hi<<4|lo)
			i += 2
		case needsEscape(c):
			return nil, fmt.Errorf("byte %q not allowed in a subject token", c)
		default:
			b = append(b, c)
		}
	}
	return b, nil
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
