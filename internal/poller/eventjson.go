package poller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// appendJSON appends the event's JSON, byte for byte what encoding/json
// makes of the struct it mirrors (Event.MarshalJSON's doc): strings
// escaped as it escapes them (HTML characters included), before and
// after compacted and escaped the same way, null when empty. It is
// written out by hand because encoding/json compacts the output of a
// Marshaler again, and a json.RawMessage's too: each record was scanned
// three times, the most expensive step of an event. compact says of
// before and after that they are valid JSON in compact form already
// (idAndForm), to be escaped but not compacted again.
func (e Event) appendJSON(b []byte, compact [2]bool) ([]byte, error) {
	b = append(b, `{"customerId":`...)
	b = appendJSONString(b, e.CustomerID)
	b = append(b, `,"change":`...)
	b = appendJSONString(b, e.Change)
	b = append(b, `,"fields":[`...)
	for i, f := range e.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f)
	}
	b = append(b, ']')
	var err error
	if e.Truncated {
		b = append(b, `,"truncated":true`...)
	} else {
		b = append(b, `,"before":`...)
		if b, err = appendRecord(b, e.Before, compact[0]); err != nil {
			return nil, fmt.Errorf("before: %w", err)
		}
		b = append(b, `,"after":`...)
		if b, err = appendRecord(b, e.After, compact[1]); err != nil {
			return nil, fmt.Errorf("after: %w", err)
		}
	}
	b = append(b, `,"updatedAt":`...)
	b = appendJSONString(b, e.UpdatedAt)
	b = append(b, `,"detectedAt":"`...)
	b = e.DetectedAt.UTC().AppendFormat(b, timeLayout)
	return append(b, `"}`...), nil
}

// sizeHint is about the bytes of e's JSON, so that appendJSON appends
// to one array: its records, its id and fields, and room for the rest.
func (e Event) sizeHint() int {
	n := 160 + 2*len(e.CustomerID) + len(e.Before) + len(e.After) + len(e.UpdatedAt)
	for _, f := range e.Fields {
		n += len(f) + 3
	}
	return n
}

// appendRecord appends r compacted, with <, >, &, U+2028 and U+2029
// escaped as encoding/json escapes them; null when r is empty. It fails
// when r is not valid JSON. compact says r is valid and compact already.
func appendRecord(b []byte, r json.RawMessage, compact bool) ([]byte, error) {
	switch {
	case len(r) == 0:
		return append(b, "null"...), nil
	case compact && !needsHTMLEscape(r):
		return append(b, r...), nil
	case compact:
		buf := bytes.NewBuffer(b)
		json.HTMLEscape(buf, r)
		return buf.Bytes(), nil
	}
	buf := bytes.NewBuffer(b)
	start := buf.Len()
	if err := json.Compact(buf, r); err != nil {
		return nil, err
	}
	b = buf.Bytes()
	if !needsHTMLEscape(b[start:]) {
		return b, nil
	}
	compacted := bytes.Clone(b[start:])
	buf.Truncate(start)
	json.HTMLEscape(buf, compacted)
	return buf.Bytes(), nil
}

// needsHTMLEscape reports whether json.HTMLEscape would change b: whether
// it holds <, > or &, U+2028 or U+2029. Each is looked for on its own
// (bytes.IndexByte, bytes.Contains), which compares many bytes at once:
// five such passes over a record cost a tenth of one through
// bytes.ContainsAny, which tests each byte against its set.
func needsHTMLEscape(b []byte) bool {
	return bytes.IndexByte(b, '<') >= 0 || bytes.IndexByte(b, '>') >= 0 || bytes.IndexByte(b, '&') >= 0 ||
		bytes.Contains(b, lineSeparator) || bytes.Contains(b, paragraphSeparator)
}

var lineSeparator, paragraphSeparator = []byte("\u2028"), []byte("\u2029")

// appendJSONString appends s as encoding/json encodes a string: a plain
// one as it is, any other through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
