package poller

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/streams"
)

// CloudEvents 1.0 binary-mode headers of a change event.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderSource      = "ce-source"
	HeaderType        = "ce-type"
	HeaderSubject     = "ce-subject"
	HeaderTime        = "ce-time"
	HeaderContentType = "Content-Type"
)

// Message returns e as a NATS message in CloudEvents 1.0 binary mode, ready
// to publish to JetStream: subject subjects.Changed(e.CustomerID); headers
// ce-specversion 1.0, ce-id e.ID(), ce-source gormic-crm/<orgID>, ce-type
// EventType, ce-subject the customer id, ce-time DetectedAt (RFC 3339, UTC,
// milliseconds), Content-Type application/json, and Nats-Msg-Id the same as
// ce-id, so that JetStream drops the same change published twice within
// its duplicate window; the body is e's JSON.
//
// Message returns an error for an empty customer id or orgID, a Change that
// is not Created, Updated or Deleted, or a Before or After that is not
// valid JSON.
func Message(subjects streams.Subjects, orgID string, e Event) (*nats.Msg, error) {
	return message(subjects, orgID, e, eventID{})
}

// message is Message, with e's eventID when newEvent made it; when eid is
// none, message computes it.
func message(subjects streams.Subjects, orgID string, e Event, eid eventID) (*nats.Msg, error) {
	switch {
	case e.CustomerID == "":
		return nil, errors.New("poller: message: empty customer id")
	case orgID == "":
		return nil, errors.New("poller: message: empty org id")
	case e.Change != Created && e.Change != Updated && e.Change != Deleted:
		return nil, fmt.Errorf("poller: message for %s: unknown change %q", e.CustomerID, e.Change)
	}
	if eid.id == "" {
		eid.id, eid.compact = e.idAndForm()
	}
	id := eid.id
	body, err := e.appendJSON(*eventArrays.get(e.sizeHint()), eid.compact) // MarshalJSON's bytes
	if err != nil {
		return nil, fmt.Errorf("poller: message for %s: %w", e.CustomerID, err)
	}
	// One array holds every header's value (and room for a trace
	// context's), instead of one allocation a header.
	v := [...]string{"1.0", id, "gormic-crm/" + orgID, EventType, e.CustomerID,
		e.DetectedAt.UTC().Format(timeLayout), "application/json", id}
	h := eventHeader(len(v) + 2)
	for i, k := range [...]string{HeaderSpecVersion, HeaderID, HeaderSource, HeaderType,
		HeaderSubject, HeaderTime, HeaderContentType, nats.MsgIdHdr} {
		h[k] = v[i : i+1 : i+1]
	}
	return &nats.Msg{Subject: subjects.Changed(e.CustomerID), Header: h, Data: body}, nil
}

// eventArrays are the arrays of event messages whose publishes are
// answered (releaseEventBuf): a bulk change's event messages were 15 % of
// the bytes the bridge allocated.
var eventArrays arrays

// eventHeaders are the header maps of event messages whose publishes are
// answered, emptied (releaseEventBuf): making and filling a map for each
// event was a sixth of a bulk change's cost of making its messages.
var eventHeaders sync.Pool // of nats.Header

// eventHeader returns an empty header map, with room for n headers when
// it is new.
func eventHeader(n int) nats.Header {
	if h, ok := eventHeaders.Get().(nats.Header); ok {
		return h
	}
	return make(nats.Header, n)
}

// releaseEventBuf gives the array of m's data back to eventArrays, and
// its headers, emptied, to eventHeaders; m keeps neither. Only for a
// message whose publish is answered (its PubAckFuture): nats.go copies a
// message as it sends it, and reads it again only to send it again before
// then.
func releaseEventBuf(m *nats.Msg) {
	if m == nil {
		return
	}
	if h := m.Header; h != nil {
		m.Header = nil
		clear(h)
		eventHeaders.Put(h)
	}
	if cap(m.Data) == 0 {
		return
	}
	b := m.Data[:0]
	m.Data = nil
	eventArrays.put(&b)
}
