package deadletter

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Discards tallies what became of the dead letters of a discard, one
// Discard callback at a time. Its zero value is an empty tally; it is not
// safe for concurrent use.
type Discards struct {
	Removed, Gone int
	// Failed names each dead letter not removed, in order, and why.
	Failed []string
}

// Add counts l and what Discard says became of it (err), and returns the
// line for a person: "<Name>: discarded", "<Name>: gone already (removed
// meanwhile)" or "<Name>: NOT DISCARDED: <err>".
func (d *Discards) Add(l Letter, err error) string {
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		d.Gone++
		return l.Name() + ": gone already (removed meanwhile)"
	case err != nil:
		d.Failed = append(d.Failed, fmt.Sprintf("%s: %v", l.Name(), err))
		return fmt.Sprintf("%s: NOT DISCARDED: %v", l.Name(), err)
	}
	d.Removed++
	return l.Name() + ": discarded"
}

// Text sums d up for a person: "<n> dead letters: <n> discarded, <n> gone
// already, <n> failed".
func (d Discards) Text() string {
	return fmt.Sprintf("%d dead letters: %d discarded, %d gone already, %d failed", d.Removed+d.Gone+len(d.Failed), d.Removed, d.Gone, len(d.Failed))
}

// Err returns an error naming each dead letter not removed, a line each;
// nil when every one was removed or gone already.
func (d Discards) Err() error {
	if len(d.Failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d not discarded (the others were):\n  %s", len(d.Failed), strings.Join(d.Failed, "\n  "))
}

// Audit logs on log what Discard says became of l (err), for the audit
// trail of a discard: at Info "dead letter discarded" or "dead letter gone
// already", at Warn "dead letter not discarded" with the error; each with
// l's AuditAttrs.
func Audit(log *slog.Logger, subj streams.Subjects, l Letter, err error) {
	attrs := l.AuditAttrs(subj)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		log.Info("dead letter gone already", attrs...)
	case err != nil:
		log.Warn("dead letter not discarded", append(attrs, "error", err.Error())...)
	default:
		log.Info("dead letter discarded", attrs...)
	}
}

// AuditAttrs are the slog attributes that say which dead letter l is,
// its customer id read under subj: seq, command_id, op, customer_id,
// dlq_status and dlq_reason.
func (l Letter) AuditAttrs(subj streams.Subjects) []any {
	return []any{"seq", l.Seq, "command_id", l.CommandID(), "op", l.Op(), "customer_id", l.CustomerID(subj),
		"dlq_status", l.Status(), "dlq_reason", l.Reason()}
}
