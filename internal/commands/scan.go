// This file holds the reading of a body's JSON: the whole-body checks
// (encoding/json), the walk over the members of the object (package
// jsonscan), and the names that are no field of the op.

package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gormic/crm-bridge/internal/jsonscan"
)

// isEmptyObject reports whether b is empty, blank, or {} with whitespace.
func isEmptyObject(b []byte) bool {
	i := jsonscan.Space(b, 0)
	if i == len(b) {
		return true
	}
	if b[i] != '{' {
		return false
	}
	i = jsonscan.Space(b, i+1)
	return i < len(b) && b[i] == '}' && jsonscan.Space(b, i+1) == len(b)
}

// checkObject returns a whole-body error unless b is one valid JSON object.
func checkObject(b []byte) *ValidationError {
	i := jsonscan.Space(b, 0)
	if i == len(b) {
		return wholeBody("body is empty; want a JSON object")
	}
	if !jsonscan.Valid(b) {
		var raw json.RawMessage
		err := json.Unmarshal(b, &raw) // only to say why
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se) && strings.HasSuffix(se.Error(), "exceeded max depth"):
			// encoding/json's limit, which it does not export; nothing
			// beyond it is parsed.
			return wholeBody("body nests arrays and objects more than 10000 deep")
		case errors.As(err, &se):
			return wholeBody(fmt.Sprintf("body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset))
		}
		return wholeBody("body is not valid JSON")
	}
	if b[i] != '{' {
		return wholeBody("body must be a JSON object, not " + kindName(b[i]))
	}
	return nil
}

// walk reads the members of the object in b (valid JSON, an object).
func (d *decoded) walk(b []byte) {
	ms := jsonscan.Object(b, jsonscan.Space(b, 0))
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		key := d.src[m.Name+1 : m.NameEnd-1]
		if m.Escaped {
			key = jsonscan.Unquote(b[m.Name:m.NameEnd])
		}
		d.member(key, b, m)
	}
}

// member records one name and its value, m of b.
func (d *decoded) member(key string, b []byte, m jsonscan.Member) {
	f, ok := lookupField(key)
	if !ok || d.spec.allowed&bit(f) == 0 {
		d.unknown.add(key)
		return
	}
	if d.seen&bit(f) != 0 {
		if d.dup&bit(f) == 0 {
			d.dup |= bit(f)
			d.add(f, "duplicate", "")
		}
		return
	}
	d.seen |= bit(f)
	d.setValue(f, b, m)
}

// setValue records the value of field f, seen for the first time: that of
// member m of b.
func (d *decoded) setValue(f bodyField, b []byte, m jsonscan.Member) {
	switch kind := b[m.Value]; {
	case kind == 'n':
		if d.spec.nullable&bit(f) == 0 {
			d.add(f, "null", "")
			return
		}
		d.null |= bit(f)
	case f == fieldUnsubscribed:
		if kind != 't' && kind != 'f' {
			d.add(f, "type", kindName(kind))
			return
		}
		d.unsub = kind == 't'
		d.present |= bit(f)
	case kind != '"':
		d.add(f, "type", kindName(kind))
	default:
		v := d.src[m.Value+1 : m.End-1]
		if m.ValueEscaped {
			v = jsonscan.Unquote(b[m.Value:m.End])
		}
		d.str[f] = v
		d.present |= bit(f)
	}
}

// kindName names the kind of JSON value that starts with c.
func kindName(c byte) string {
	switch c {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// unknownNames collects the names that are no field of the op, keeping
// only what a ValidationError shows: how many distinct names there are, and
// the least maxFieldErrors of them. A body of thousands of names costs
// linear time.
type unknownNames struct {
	seen  map[string]struct{} // the distinct names
	least []string            // the least names, sorted, at most maxFieldErrors
}

// add records a name.
func (u *unknownNames) add(name string) {
	if _, ok := u.seen[name]; ok {
		return
	}
	if u.seen == nil {
		u.seen = make(map[string]struct{})
	}
	u.seen[name] = struct{}{}
	if len(u.least) == maxFieldErrors && name >= u.least[maxFieldErrors-1] {
		return
	}
	i, _ := slices.BinarySearch(u.least, name)
	u.least = slices.Insert(u.least, i, name)
	if len(u.least) > maxFieldErrors {
		u.least = u.least[:maxFieldErrors]
	}
}

// count returns the number of distinct names.
func (u *unknownNames) count() int { return len(u.seen) }
