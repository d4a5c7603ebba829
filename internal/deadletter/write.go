package deadletter

import (
	"context"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// Command is what a dead letter records of a command that was not applied.
type Command struct {
	ID      string      // its Nats-Msg-Id, or else its stream sequence
	Op      string      // create, update, delete or unknown: the dead letter's subject's last token
	Subject string      // as published
	Header  nats.Header // its headers, as published
	Data    []byte      // its body
	Status  string      // its result's status: rejected or failed
	// Reason says why it was not applied, for a person: "<code>:
	// <message>", or the status when there is no error.
	Reason string
}

// Message returns c's dead letter on subj's DLQ subject of c.Op: c's body
// and headers, less the Nats-* headers, with Nats-Msg-Id dlq-<command id>
// and the headers of the package doc, and the trace context of ctx (the
// command's span) as traceparent and tracestate in place of the command's
// own (which are left out when they are not valid W3C trace context).
func Message(ctx context.Context, subj streams.Subjects, c Command) *nats.Msg {
	m := nats.NewMsg(subj.DLQ(c.Op))
	for k, v := range c.Header {
		if isJetStreamHeader(k) || isTraceHeader(k) {
			continue
		}
		m.Header[k] = slices.Clone(v)
	}
	m.Header.Set(nats.MsgIdHdr, "dlq-"+c.ID)
	m.Header.Set(HeaderCommandID, c.ID)
	m.Header.Set(HeaderStatus, c.Status)
	m.Header.Set(HeaderReason, c.Reason)
	m.Header.Set(HeaderOriginalSubject, c.Subject)
	tracing.Inject(ctx, m.Header)
	m.Data = c.Data
	return m
}

// isTraceHeader reports whether a header is traceparent or tracestate, in
// any case.
func isTraceHeader(k string) bool {
	return strings.EqualFold(k, tracing.HeaderTraceparent) || strings.EqualFold(k, tracing.HeaderTracestate)
}
