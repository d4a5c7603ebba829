package crm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Customer.Raw without a second decode: encoding/json decodes an answer
// into its structs in one pass (which also validates it), and then
// recordSpans walks the same, now known valid, bytes to find where each
// record starts and ends. Walking is a byte loop that decodes nothing; it
// costs a small part of the decode (BenchmarkDecodeExportPage), where a
// per-record UnmarshalJSON would scan every record three more times.
//
// The walk must find the records encoding/json decoded. encoding/json
// takes the last of duplicate members, merges duplicates into one value,
// and matches member names case-insensitively and through escapes; the walk
// refuses what could make it disagree: a "data" or record member that is
// duplicated or spelled otherwise ("Data", "\u0064ata").

// span is b[start:end].
type span struct{ start, end int }

// recordSpans returns the span of each record at data.<member> of a valid
// JSON body: the array's elements, the object itself, or none for null or
// a missing member.
func recordSpans(body []byte, member string) ([]span, error) {
	w := walker{b: body}
	w.space()
	data, found, err := w.member("data")
	if err != nil || !found {
		return nil, err
	}
	w.i = data.start
	recs, found, err := w.member(member)
	if err != nil || !found {
		return nil, err
	}
	if recs.start >= len(body) {
		return nil, nil
	}
	w.i = recs.start
	switch body[recs.start] {
	case '{':
		return []span{recs}, nil
	case '[':
		return w.elements(), nil
	}
	return nil, nil // null (or a value decoding has already refused)
}

// walker moves through valid JSON.
type walker struct {
	b []byte
	i int
}

func (w *walker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// str skips the string at w.i and returns its contents, undecoded, and
// whether they hold an escape.
func (w *walker) str() (raw []byte, escaped bool) {
	w.i++ // opening quote
	start := w.i
	for {
		q := bytes.IndexByte(w.b[w.i:], '"')
		if q < 0 {
			w.i = len(w.b)
			return w.b[start:], escaped
		}
		w.i += q + 1
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for j := w.i - 2; j >= start && w.b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			raw = w.b[start : w.i-1]
			return raw, bytes.IndexByte(raw, '\\') >= 0
		}
	}
}

// structural marks the bytes that matter when skipping an object or array.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// value skips the value at w.i.
func (w *walker) value() {
	if w.i >= len(w.b) {
		return
	}
	switch w.b[w.i] {
	case '"':
		w.str()
	case '{', '[':
		w.container()
	default:
		w.scalar()
	}
}

// container skips the object or array at w.i.
func (w *walker) container() {
	depth := 0
	for w.i < len(w.b) {
		for w.i < len(w.b) && !structural[w.b[w.i]] {
			w.i++
		}
		if w.i >= len(w.b) {
			return
		}
		switch w.b[w.i] {
		case '"':
			w.str()
			continue
		case '{', '[':
			depth++
		default: // '}', ']'
			depth--
			if depth == 0 {
				w.i++
				return
			}
		}
		w.i++
	}
}

// scalar skips the number or literal at w.i.
func (w *walker) scalar() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return
		}
		w.i++
	}
}

// member returns the span of the value of the object at w.i's member name.
// found is false when w.i is not at an object or the object has no such
// member; an error means the object names it twice or otherwise than
// exactly.
func (w *walker) member(name string) (val span, found bool, err error) {
	if w.i >= len(w.b) || w.b[w.i] != '{' {
		return span{}, false, nil
	}
	w.i++
	for {
		w.space()
		if w.i >= len(w.b) || w.b[w.i] == '}' {
			return val, found, nil
		}
		raw, escaped := w.str()
		key := string(raw)
		if escaped {
			_ = json.Unmarshal(w.b[w.i-len(raw)-2:w.i], &key)
		}
		w.space()
		w.i++ // colon
		w.space()
		start := w.i
		w.value()
		switch {
		case key == name && !escaped && !found:
			val, found = span{start, w.i}, true
		case strings.EqualFold(key, name):
			return span{}, false, fmt.Errorf("ambiguous answer: member %q is duplicated or spelled otherwise", name)
		}
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ',' {
			w.i++
		}
	}
}

// elements returns the spans of the elements of the array at w.i.
func (w *walker) elements() []span {
	var out []span
	w.i++ // [
	for {
		w.space()
		if w.i >= len(w.b) || w.b[w.i] == ']' {
			return out
		}
		start := w.i
		w.value()
		if w.i == start {
			return out // not JSON: stop rather than loop
		}
		out = append(out, span{start, w.i})
		w.space()
		if w.i < len(w.b) && w.b[w.i] == ',' {
			w.i++
		}
	}
}

// setRaw sets each record's Raw to a copy of its span of body, after
// checking that the walk found as many records as decoding did.
func setRaw(body []byte, spans []span, records []Customer) error {
	if len(spans) != len(records) {
		return errors.New("records do not match the answer") // cannot happen for valid JSON
	}
	for i, s := range spans {
		records[i].Raw = append(json.RawMessage(nil), body[s.start:s.end]...)
	}
	return nil
}
