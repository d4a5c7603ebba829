package poller

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cespare/xxhash/v2"
)

// A record too large for one NATS message cannot be an event's before or
// after, nor a state entry. Its event is published truncated (Event.
// Truncated), and the state keeps a sketch of it instead: enough to tell
// the customer's next change (which fields differ) and to give that
// change's event a stable ID, but not the record. The next event is then
// truncated too: its before is the oversized record, which would not fit.

// hdrOversized marks a c.<id> entry that holds a sketch instead of the
// record: its value is the record's size in bytes.
const hdrOversized = "Poller-Oversized"

// sketch is what the state keeps of a record too large for it.
type sketch struct {
	// UpdatedAt is the record's updatedAt, for the deleted event.
	UpdatedAt string `json:"updatedAt,omitempty"`
	// Fields maps each field Diff compares (not null, not updatedAt,
	// updatedBy, updatedVia) to the XXH64 of its canonical value, in 16 hex
	// digits. Nil when even that did not fit: every field of the next
	// record then counts as changed.
	Fields map[string]string `json:"fields,omitempty"`
}

// newSketch returns the sketch of record, with fields or without.
func newSketch(record json.RawMessage, fields bool) (json.RawMessage, error) {
	c := getCanon()
	defer putCanon(c)
	if err := c.record(record); err != nil {
		return nil, fmt.Errorf("poller: sketch: %w", err)
	}
	var s sketch
	if fields {
		s.Fields = make(map[string]string, len(c.spans))
	}
	for _, sp := range c.spans {
		name := string(c.name(sp))
		if name == "updatedAt" && c.buf[sp.v] == 's' {
			s.UpdatedAt = string(c.buf[sp.v+5 : sp.end])
		}
		if fields && c.kept(sp) {
			s.Fields[name] = fmt.Sprintf("%016x", xxhash.Sum64(c.buf[sp.v:sp.end]))
		}
	}
	return json.Marshal(s)
}

// diff returns the sorted names of the fields whose values differ between
// the record sketched and after, as Diff would.
func (s sketch) diff(after json.RawMessage) ([]string, error) {
	c := getCanon()
	defer putCanon(c)
	if err := c.record(after); err != nil {
		return nil, fmt.Errorf("poller: diff: after: %w", err)
	}
	var fields []string
	seen := make(map[string]bool, len(c.spans))
	for _, sp := range c.spans {
		if !c.kept(sp) {
			continue
		}
		name := string(c.name(sp))
		seen[name] = true
		if s.Fields == nil || s.Fields[name] != fmt.Sprintf("%016x", xxhash.Sum64(c.buf[sp.v:sp.end])) {
			fields = append(fields, name)
		}
	}
	for name := range s.Fields {
		if !seen[name] {
			fields = append(fields, name)
		}
	}
	slices.Sort(fields)
	return fields, nil
}

// sketchEvent is NewEvent for a customer whose saved record is only a
// sketch (sv.oversized): the event, if any, is truncated.
func sketchEvent(customerID string, sv saved, after json.RawMessage, detectedAt time.Time) (ev Event, ok bool, err error) {
	var s sketch
	if err := json.Unmarshal(sv.record, &s); err != nil {
		return Event{}, false, fmt.Errorf("poller: event for %s: saved sketch: %w", customerID, err)
	}
	ev = Event{
		CustomerID:   customerID,
		Fields:       []string{},
		DetectedAt:   detectedAt.UTC().Truncate(time.Millisecond),
		Truncated:    true,
		beforeDigest: sv.digest,
	}
	if len(after) == 0 {
		ev.Change, ev.UpdatedAt = Deleted, s.UpdatedAt
		return ev, true, nil
	}
	fields, err := s.diff(after)
	if err != nil || len(fields) == 0 {
		if err != nil {
			err = fmt.Errorf("poller: event for %s: %w", customerID, err)
		}
		return Event{}, false, err
	}
	ev.Change, ev.Fields, ev.After = Updated, fields, after
	if ev.UpdatedAt, err = updatedAt(after); err != nil {
		return Event{}, false, fmt.Errorf("poller: event for %s: %w", customerID, err)
	}
	return ev, true, nil
}

// msgSize is how many bytes of a server's max_payload m takes once
// published with an expected last sequence: its data and its headers as
// the client encodes them.
func msgSize(m *nats.Msg) int {
	n := len("NATS/1.0\r\n\r\n") + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v) + len(": \r\n")
		}
	}
	return n + len(jetstreamExpectHdr+": \r\n") + len(strconv.FormatUint(1<<64-1, 10))
}

// jetstreamExpectHdr is the header WithExpectLastSequencePerSubject adds.
const jetstreamExpectHdr = "Nats-Expected-Last-Subject-Sequence"
