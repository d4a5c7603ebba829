// Package jsonscan finds where the values of a JSON text start and end,
// without decoding them, in text that Valid has already found valid (as
// encoding/json.Valid would, faster). It is what the bridge needs
// besides encoding/json: the bytes of each customer record of a CRM
// answer that encoding/json decodes into structs (crm), and every name
// of a command's body, duplicates and unknown names included, with its
// value (commands). encoding/json's Decoder can do the second, name by
// name with Token, but far slower (BenchmarkMembers, a create command's
// body: 0.2 to 0.6 µs and 7 allocations against 13 µs and 95 on a loaded
// machine; Decode as a whole became six times slower with it); and
// neither its Decoder nor its struct decoding can say where a value lies
// in its input.
//
// On text that is not valid JSON the functions other than Valid never
// panic nor loop, and their results mean nothing. The canonical form of
// records (package poller) is the other JSON lexer of the bridge: it
// validates and decodes as it goes, which this one does not.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Space returns the offset of the first byte at or after b[i] that is not
// JSON white space; len(b) if there is none.
func Space(b []byte, i int) int {
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

// String returns the offset just past the string literal whose opening
// quote is b[i] (len(b) when it has no closing quote), and whether the
// literal holds an escape. It reads byte by byte, which is quicker than
// bytes.IndexByte for the short strings of names and most values.
func String(b []byte, i int) (end int, escaped bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return len(b), escaped
}

// structural marks the bytes that matter when skipping an object or array.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// Value returns the offset just past the value that starts at b[i]; i
// itself when no value starts there. Nesting is followed with a counter,
// not recursion, so depth costs no stack.
func Value(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := String(b, i)
		return end
	case '{', '[':
		return nested(b, i)
	}
	for j := i; j < len(b); j++ { // number or literal
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(b)
}

// nested returns the offset just past the object or array at b[i].
func nested(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		for i < len(b) && !structural[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '"':
			i, _ = String(b, i)
			continue
		case '{', '[':
			depth++
		default: // '}', ']'
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(b)
}

// Unquote returns the string that the literal lit (quotes included) holds,
// as encoding/json decodes it.
func Unquote(lit []byte) string {
	if len(lit) >= 2 && bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return string(lit) // not a literal: its bytes, rather than nothing
	}
	return s
}

// SetString sets *dst to the string that the literal lit (quotes
// included) holds, as encoding/json decodes it into a string; null leaves
// *dst as it is. It reports false for any other value.
func SetString(lit []byte, dst *string) bool {
	switch {
	case lit[0] == 'n':
		return true
	case lit[0] != '"':
		return false
	}
	s := lit[1 : len(lit)-1]
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		*dst = string(s)
		return true
	}
	return json.Unmarshal(lit, dst) == nil
}

// Member is one member of an object.
type Member struct {
	// Name and NameEnd delimit the name's literal, quotes included:
	// b[Name:NameEnd].
	Name, NameEnd int
	// Escaped reports whether the name's literal holds an escape (else the
	// name is b[Name+1:NameEnd-1]).
	Escaped bool
	// Value and End delimit the value: b[Value:End].
	Value, End int
	// ValueEscaped reports whether the value is a string literal that holds
	// an escape.
	ValueEscaped bool
}

// Members walks the members of an object, in the order they are written.
// The zero Members has none.
type Members struct {
	b []byte
	i int
}

// Object returns the walk over the members of the object whose '{' is
// b[i].
func Object(b []byte, i int) Members { return Members{b: b, i: i + 1} }

// Next returns the next member; ok is false after the last one.
func (ms *Members) Next() (m Member, ok bool) {
	b := ms.b
	i := Space(b, ms.i)
	if i < len(b) && b[i] == ',' {
		i = Space(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		ms.i = len(b)
		return Member{}, false
	}
	m.Name = i
	m.NameEnd, m.Escaped = String(b, i)
	i = Space(b, m.NameEnd)
	if i < len(b) && b[i] == ':' {
		i = Space(b, i+1)
	}
	m.Value = i
	if i < len(b) && b[i] == '"' {
		m.End, m.ValueEscaped = String(b, i)
	} else {
		m.End = Value(b, i)
	}
	if m.End == m.Value { // not JSON: stop rather than loop
		ms.i = len(b)
		return Member{}, false
	}
	ms.i = m.End
	return m, true
}

// Elements walks the elements of an array, in order. The zero Elements
// has none.
type Elements struct {
	b []byte
	i int
}

// Array returns the walk over the elements of the array whose '[' is b[i].
func Array(b []byte, i int) Elements { return Elements{b: b, i: i + 1} }

// Next returns the next element, b[start:end]; ok is false after the last
// one.
func (es *Elements) Next() (start, end int, ok bool) {
	b := es.b
	i := Space(b, es.i)
	if i < len(b) && b[i] == ',' {
		i = Space(b, i+1)
	}
	end = Value(b, i)
	if i >= len(b) || b[i] == ']' || end == i {
		es.i = len(b)
		return 0, 0, false
	}
	es.i = end
	return i, end, true
}
