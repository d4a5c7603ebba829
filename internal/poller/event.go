package poller

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Change kinds, the values of Event.Change.
const (
	Created = "created"
	Updated = "updated"
	Deleted = "deleted"
)

// EventType is the CloudEvents type of a change event.
const EventType = "crm.customer.changed"

// timeLayout is RFC 3339 with milliseconds, as detectedAt and ce-time are
// written (always UTC, so always ending in Z).
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Event is the body of a crm.customer.changed event (docs/contract.md, "Change
// events"). It encodes to JSON with fields as [] when empty, before and
// after as null when absent, and detectedAt in UTC with milliseconds.
type Event struct {
	CustomerID string `json:"customerId"`
	// Change is Created, Updated or Deleted.
	Change string `json:"change"`
	// Fields are the names of the fields that differ (Diff); empty for
	// Created and Deleted.
	Fields []string `json:"fields"`
	// Before is the customer as last seen; nil for Created.
	Before json.RawMessage `json:"before"`
	// After is the customer now; nil for Deleted.
	After json.RawMessage `json:"after"`
	// UpdatedAt is after.updatedAt, or before.updatedAt for Deleted; empty
	// when that is absent or not a string.
	UpdatedAt string `json:"updatedAt"`
	// DetectedAt is when the poller saw the change.
	DetectedAt time.Time `json:"detectedAt"`
	// Truncated is set on an event too large for one NATS message
	// (docs/contract.md, "v2, oversized events"): it is published without
	// before and after, with "truncated": true; Fields are kept. Its ID is
	// that of the whole event.
	Truncated bool `json:"truncated,omitempty"`

	// beforeDigest stands for Before in ID when the poller kept only the
	// wholeDigest of a record too large for its state (a sketch): 0 when
	// Before is the record itself.
	beforeDigest uint64
}

// NewEvent returns the event for a customer seen now as after (nil or
// empty: gone from the export) that was last seen as before (nil or empty:
// never seen). ok is false when there is nothing to publish: both are nil,
// or after differs from before only in updatedAt, updatedBy, updatedVia,
// key order, whitespace or absent versus null fields (Diff is empty). The
// event refers to before and after, it does not copy them; DetectedAt is
// detectedAt in UTC, truncated to the millisecond.
//
// NewEvent returns an error for an empty customerID, and one wrapping
// ErrInvalidRecord when a non-nil record is not a JSON object.
func NewEvent(customerID string, before, after json.RawMessage, detectedAt time.Time) (ev Event, ok bool, err error) {
	ev, _, ok, err = newEvent(customerID, before, after, detectedAt)
	return ev, ok, err
}

// eventID is an event's ID and idAndForm's compact flags.
type eventID struct {
	id      string
	compact [2]bool
}

// newEvent is NewEvent, and returns the event's eventID too, from the
// same parse of each record: a record is parsed once for its event, where
// Diff, updatedAt and ID would parse it once each.
func newEvent(customerID string, before, after json.RawMessage, detectedAt time.Time) (ev Event, eid eventID, ok bool, err error) {
	if len(before) == 0 && len(after) == 0 {
		return Event{}, eventID{}, false, nil
	}
	if customerID == "" {
		return Event{}, eventID{}, false, errors.New("poller: event: empty customer id")
	}
	ev = Event{
		CustomerID: customerID,
		Fields:     []string{},
		DetectedAt: detectedAt.UTC().Truncate(time.Millisecond),
	}
	var recs [2]*canon // the parses of before and after, nil where absent
	defer func() {
		for _, c := range recs {
			if c != nil {
				putCanon(c)
			}
		}
	}()
	parse := func(i int, r json.RawMessage) error {
		recs[i] = getCanon()
		return recs[i].record(r)
	}
	switch {
	case len(before) == 0:
		ev.Change, ev.After = Created, after
		if err = parse(1, after); err == nil {
			ev.UpdatedAt = recs[1].updatedAt()
		}
	case len(after) == 0:
		ev.Change, ev.Before = Deleted, before
		if err = parse(0, before); err == nil {
			ev.UpdatedAt = recs[0].updatedAt()
		}
	default:
		// As Diff(before, after) does.
		if err := parse(0, before); err != nil {
			return Event{}, eventID{}, false, fmt.Errorf("poller: diff: before: %w", err)
		}
		if err := parse(1, after); err != nil {
			return Event{}, eventID{}, false, fmt.Errorf("poller: diff: after: %w", err)
		}
		fields := differing(recs[0], recs[1])
		if len(fields) == 0 {
			return Event{}, eventID{}, false, nil
		}
		ev.Change, ev.Fields, ev.Before, ev.After = Updated, fields, before, after
		ev.UpdatedAt = recs[1].updatedAt()
	}
	if err != nil {
		return Event{}, eventID{}, false, fmt.Errorf("poller: event for %s: %w", customerID, err)
	}
	eid.id, eid.compact = ev.idFrom(recs)
	return ev, eid, true, nil
}

// updatedAt returns the record's top-level updatedAt if it is a string,
// else "". It fails if record is not a JSON object.
func updatedAt(record json.RawMessage) (string, error) {
	c := getCanon()
	defer putCanon(c)
	if err := c.record(record); err != nil {
		return "", err
	}
	return c.updatedAt(), nil
}

// updatedAt returns the top-level updatedAt of the record c parsed
// (record) if it is a string, else "".
func (c *canon) updatedAt() string {
	for _, s := range c.spans {
		if string(c.name(s)) == "updatedAt" && c.buf[s.v] == 's' {
			return string(c.buf[s.v+5 : s.end])
		}
	}
	return ""
}

// ID returns the event's id, its ce-id and Nats-Msg-Id: 32 hex digits, the
// first 16 bytes of SHA-256 over the length-prefixed EventType, customer
// id, change, and canonical forms of before and after (the whole records,
// updatedAt included; key order, whitespace and number spelling do not
// count; null is the same as absent). The same change detected twice has
// the same ID, whatever DetectedAt, and a consumer that decodes the event
// computes the same ID from it; a record that is not valid JSON counts by
// its bytes. An event whose before the poller knows only by its digest
// (the change after a record too large for the state) hashes that digest
// instead, so its ID is as stable, but a consumer cannot recompute it.
func (e Event) ID() string {
	id, _ := e.idAndForm()
	return id
}

// idAndForm returns ID, and for before and after whether each is valid
// JSON already in its compact form (no white space between tokens), which
// appendJSON then need not compact: the canonical form's parse tells.
func (e Event) idAndForm() (id string, compact [2]bool) {
	return e.idFrom([2]*canon{})
}

// idFrom is idAndForm, which takes before or after from recs[0] or
// recs[1] where that holds its parse (record), not parsing it again.
func (e Event) idFrom(recs [2]*canon) (id string, compact [2]bool) {
	h := sha256.New()
	var n [8]byte
	part := func(tag byte, p []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p))+1)
		h.Write(n[:])
		h.Write([]byte{tag})
		h.Write(p)
	}
	part('t', []byte(EventType))
	part('i', []byte(e.CustomerID))
	part('c', []byte(e.Change))
	c := getCanon()
	defer putCanon(c)
	for i, r := range [2]json.RawMessage{e.Before, e.After} {
		switch {
		case i == 0 && isNull(r) && e.beforeDigest != 0:
			binary.BigEndian.PutUint64(n[:], e.beforeDigest)
			part('d', n[:])
		case isNull(r):
			part('0', nil)
		case recs[i] != nil:
			compact[i] = !recs[i].spaced
			part('j', recs[i].wholeForm())
		case c.whole(r) == nil:
			compact[i] = !c.spaced
			part('j', c.buf)
		default:
			part('r', r)
		}
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16]), compact
}

// MarshalJSON encodes the event as docs/contract.md shows it; a Truncated one
// without before and after, and with "truncated": true. It is what
// encoding/json makes of
//
//	struct {
//		CustomerID string          `json:"customerId"`
//		Change     string          `json:"change"`
//		Fields     []string        `json:"fields"` // [] when nil
//		Before     json.RawMessage `json:"before"` // or Truncated bool `json:"truncated"`
//		After      json.RawMessage `json:"after"`
//		UpdatedAt  string          `json:"updatedAt"`
//		DetectedAt string          `json:"detectedAt"` // UTC, milliseconds
//	}
//
// written out by appendJSON.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.appendJSON(nil, [2]bool{})
}
