package crm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gormic/crm-bridge/internal/jsonscan"
)

// Customer.Raw without a second decode: encoding/json decodes an answer
// into its structs in one pass (which also validates it), and then
// recordSpans walks the same, now known valid, bytes with package jsonscan
// to find where each record starts and ends. Walking decodes nothing; it
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
	data, found, err := memberSpan(body, jsonscan.Space(body, 0), "data")
	if err != nil || !found {
		return nil, err
	}
	recs, found, err := memberSpan(body, data.start, member)
	if err != nil || !found || recs.start >= len(body) {
		return nil, err
	}
	switch body[recs.start] {
	case '{':
		return []span{recs}, nil
	case '[':
		var out []span
		es := jsonscan.Array(body, recs.start)
		for start, end, ok := es.Next(); ok; start, end, ok = es.Next() {
			out = append(out, span{start, end})
		}
		return out, nil
	}
	return nil, nil // null (or a value decoding has already refused)
}

// memberSpan returns the span of the value of the object at b[i]'s member
// name. found is false when b[i] is not an object or the object has no
// such member; an error means the object names it twice or otherwise than
// exactly.
func memberSpan(b []byte, i int, name string) (val span, found bool, err error) {
	if i >= len(b) || b[i] != '{' {
		return span{}, false, nil
	}
	ms := jsonscan.Object(b, i)
	for m, ok := ms.Next(); ok; m, ok = ms.Next() {
		key := jsonscan.Unquote(b[m.Name:m.NameEnd])
		switch {
		case key == name && !m.Escaped && !found:
			val, found = span{m.Value, m.End}, true
		case strings.EqualFold(key, name):
			return span{}, false, fmt.Errorf("ambiguous answer: member %q is duplicated or spelled otherwise", name)
		}
	}
	return val, found, nil
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
