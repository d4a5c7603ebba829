package deadletter

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Record is a dead letter as JSON (`bridge dlq list --json`): Time is
// when it was stored, Headers are all of its headers, and the body is
// Body when it is UTF-8 and BodyBase64 otherwise.
type Record struct {
	Seq             uint64              `json:"seq"`
	Time            time.Time           `json:"time"`
	Op              string              `json:"op"`
	CommandID       string              `json:"commandId"`
	CustomerID      string              `json:"customerId,omitempty"`
	Status          string              `json:"status"`
	Reason          string              `json:"reason"`
	OriginalSubject string              `json:"originalSubject"`
	ReplayOf        string              `json:"replayOf,omitempty"`
	Headers         map[string][]string `json:"headers"`
	Body            *string             `json:"body,omitempty"`
	BodyBase64      string              `json:"bodyBase64,omitempty"`
}

// Record returns l as a Record, its customer id read under subj's prefix.
func (l Letter) Record(subj streams.Subjects) Record {
	r := Record{
		Seq: l.Seq, Time: l.Stored.UTC(), Op: l.Op(), CommandID: l.CommandID(), CustomerID: l.CustomerID(subj), Status: l.Status(),
		Reason: l.Reason(), OriginalSubject: l.OriginalSubject(), ReplayOf: l.ReplayOf(), Headers: map[string][]string(l.Header),
	}
	if r.Headers == nil {
		r.Headers = map[string][]string{}
	}
	if utf8.Valid(l.Data) {
		body := string(l.Data)
		r.Body = &body
	} else {
		r.BodyBase64 = base64.StdEncoding.EncodeToString(l.Data)
	}
	return r
}
