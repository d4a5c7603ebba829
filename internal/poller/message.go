package poller

import (
	"encoding/json"
	"errors"
	"fmt"

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
	switch {
	case e.CustomerID == "":
		return nil, errors.New("poller: message: empty customer id")
	case orgID == "":
		return nil, errors.New("poller: message: empty org id")
	case e.Change != Created && e.Change != Updated && e.Change != Deleted:
		return nil, fmt.Errorf("poller: message for %s: unknown change %q", e.CustomerID, e.Change)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("poller: message for %s: %w", e.CustomerID, err)
	}
	id := e.ID()
	m := nats.NewMsg(subjects.Changed(e.CustomerID))
	m.Header.Set(HeaderSpecVersion, "1.0")
	m.Header.Set(HeaderID, id)
	m.Header.Set(HeaderSource, "gormic-crm/"+orgID)
	m.Header.Set(HeaderType, EventType)
	m.Header.Set(HeaderSubject, e.CustomerID)
	m.Header.Set(HeaderTime, e.DetectedAt.UTC().Format(timeLayout))
	m.Header.Set(HeaderContentType, "application/json")
	m.Header.Set(nats.MsgIdHdr, id)
	m.Data = body
	return m, nil
}
