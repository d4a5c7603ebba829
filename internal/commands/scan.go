// This file holds the JSON walking and scanning of a body: the whole-body
// checks, the walk over the members of the object, the scanners it uses, and
// the set of names that are no field of the op.

package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
)

// isEmptyObject reports whether b is empty, blank, or {} with whitespace.
func isEmptyObject(b []byte) bool {
	i := skipSpace(b, 0)
	if i == len(b) {
		return true
	}
	if b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i == len(b) || b[i] != '}' {
		return false
	}
	return skipSpace(b, i+1) == len(b)
}

// checkObject returns a whole-body error unless b is one valid JSON object.
func checkObject(b []byte) *ValidationError {
	i := skipSpace(b, 0)
	if i == len(b) {
		return wholeBody("body is empty; want a JSON object")
	}
	if !json.Valid(b) {
		if depth(b) > maxDepth {
			return wholeBody(fmt.Sprintf("body nests arrays and objects more than %d deep", maxDepth))
		}
		var raw json.RawMessage
		err := json.Unmarshal(b, &raw) // only to say why
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return wholeBody(fmt.Sprintf("body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset))
		}
		return wholeBody("body is not valid JSON")
	}
	if b[i] != '{' {
		return wholeBody("body must be a JSON object, not " + kindName(b[i]))
	}
	return nil
}

// maxDepth is how deep encoding/json lets arrays and objects nest; the
// body beyond it is not parsed at all.
const maxDepth = 10000

// depth returns how deep arrays and objects nest in b, which need not be
// valid JSON. It takes linear time and constant space.
func depth(b []byte) int {
	d, most, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			most = max(most, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return most
}

// walk reads the members of the object in b (valid JSON, an object).
func (d *decoded) walk(b []byte) {
	s := d.src
	i := skipSpace(b, 0) + 1 // past '{'
	i = skipSpace(b, i)
	if s[i] == '}' {
		return
	}
	for {
		ke, kesc := scanString(s, i)
		key := s[i+1 : ke-1]
		if kesc {
			key = unquote(b[i:ke])
		}
		i = skipSpace(b, ke)  // at ':'
		i = skipSpace(b, i+1) // at the value
		ve, vesc := skipValue(s, i)
		d.member(key, b, i, ve, vesc)
		i = skipSpace(b, ve) // at ',' or '}'
		if s[i] == '}' {
			return
		}
		i = skipSpace(b, i+1)
	}
}

// member records one name and its value b[vs:ve].
func (d *decoded) member(key string, b []byte, vs, ve int, esc bool) {
	f, ok := lookupField(key)
	if !ok || d.spec.allowed&bit(f) == 0 {
		d.unknown.add(key, len(d.src)-ve)
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
	kind := b[vs]
	switch {
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
		v := d.src[vs+1 : ve-1]
		if esc {
			v = unquote(b[vs:ve])
		}
		d.str[f] = v
		d.present |= bit(f)
	}
}

// unquote decodes a JSON string literal that holds escapes.
func unquote(lit []byte) string {
	var s string
	if err := json.Unmarshal(lit, &s); err != nil {
		// Unreachable: lit is a string literal of a valid document.
		return string(lit)
	}
	return s
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the string literal that starts
// with the quote at s[i], and whether it holds escapes. s is valid JSON.
func scanString(s string, i int) (end int, esc bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			esc = true
			j++
		case '"':
			return j + 1, esc
		}
	}
	return len(s), esc
}

// skipValue returns the index just past the value that starts at s[i],
// and for a string whether it holds escapes. s is valid JSON. Nesting is
// followed with a counter, not recursion, so depth costs no stack.
func skipValue(s string, i int) (end int, esc bool) {
	switch s[i] {
	case '"':
		return scanString(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, false
				}
			case '"':
				j, _ = scanString(s, j)
				j--
			}
		}
		return len(s), false
	}
	j := i
	for j < len(s) {
		switch s[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j, false
		}
		j++
	}
	return j, false
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
// linear time: the names are told apart by a small open-addressing hash
// set (a Go map costs several times more here, where a 64 KiB body can
// hold 10,000 names).
type unknownNames struct {
	names []string // the distinct names, in order of appearance
	slots []int32  // hash set: 1 + an index into names, 0 when free
	least []string // the least names, sorted, at most maxFieldErrors
}

// nameSeed seeds the hash of unknownNames; a maphash.Seed may be shared.
var nameSeed = maphash.MakeSeed()

// add records a name; rest is the number of bytes of the body after it,
// which bounds how many names are to come.
func (u *unknownNames) add(name string, rest int) {
	if !u.insert(name, rest) {
		return
	}
	if len(u.least) == maxFieldErrors && name >= u.least[maxFieldErrors-1] {
		return
	}
	i, _ := slices.BinarySearch(u.least, name)
	u.least = slices.Insert(u.least, i, name)
	if len(u.least) > maxFieldErrors {
		u.least = u.least[:maxFieldErrors]
	}
}

// insert adds name to the set and reports whether it was new. The set is
// at most half full.
func (u *unknownNames) insert(name string, rest int) bool {
	if len(u.slots) == 0 && len(u.names) < 8 {
		if slices.Contains(u.names, name) { // few names: no set yet
			return false
		}
		u.names = append(u.names, name)
		return true
	}
	if 2*(len(u.names)+1) > len(u.slots) {
		// Make room for the names to come, most of which take 8 bytes or
		// more with their value, so as to grow rarely.
		want := len(u.names) + 1 + rest/8
		size := 64
		for size < 2*want {
			size *= 2
		}
		u.slots = make([]int32, size)
		u.names = slices.Grow(u.names, want-len(u.names))
		for i, n := range u.names {
			u.slots[u.probe(n)] = int32(i + 1)
		}
	}
	j := u.probe(name)
	if u.slots[j] != 0 {
		return false
	}
	u.names = append(u.names, name)
	u.slots[j] = int32(len(u.names))
	return true
}

// probe returns the slot that holds name, or the free slot where it goes.
func (u *unknownNames) probe(name string) int {
	mask := len(u.slots) - 1
	for j := int(maphash.String(nameSeed, name)) & mask; ; j = (j + 1) & mask {
		if k := u.slots[j]; k == 0 || u.names[k-1] == name {
			return j
		}
	}
}

// count returns the number of distinct names.
func (u *unknownNames) count() int { return len(u.names) }
