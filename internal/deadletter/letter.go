package deadletter

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Header names of a dead letter (see the package doc). HeaderCommandID is
// also that of results.
const (
	// HeaderCommandID carries the command id.
	HeaderCommandID = "Command-Id"
	// HeaderReason is a dead letter's reason, for a person.
	HeaderReason = "Dlq-Reason"
	// HeaderStatus is a dead letter's result status: rejected or failed.
	HeaderStatus = "Dlq-Status"
	// HeaderOriginalSubject is the subject the command was published to.
	HeaderOriginalSubject = "Original-Subject"
	// HeaderReplayOf is, on a replayed command and its dead letter, the id
	// of the command first published.
	HeaderReplayOf = "Replay-Of"
)

// Ops are the ops of dead letters' subjects; unknown is that of a command
// whose subject did not parse.
var Ops = []string{streams.OpCreate, streams.OpUpdate, streams.OpDelete, streams.OpUnknown}

// Letter is one message of CRM_DLQ.
type Letter struct {
	Seq     uint64    // its stream sequence
	Stored  time.Time // when CRM_DLQ stored it
	Subject string
	Header  nats.Header
	Data    []byte // the command's body
}

// Op is the last token of the dead letter's subject: create, update,
// delete, or unknown for a command whose subject did not parse.
func (l Letter) Op() string { return l.Subject[strings.LastIndexByte(l.Subject, '.')+1:] }

// CommandID is the dead-lettered command's id: its Command-Id header.
func (l Letter) CommandID() string { return l.Header.Get(HeaderCommandID) }

// OriginalSubject is the subject the command was published to.
func (l Letter) OriginalSubject() string { return l.Header.Get(HeaderOriginalSubject) }

// Status is the command's result status: rejected or failed.
func (l Letter) Status() string { return l.Header.Get(HeaderStatus) }

// Reason says why the command was not applied, for a person.
func (l Letter) Reason() string { return l.Header.Get(HeaderReason) }

// ReplayOf is the id of the command that this one replays; "" for a
// command first published.
func (l Letter) ReplayOf() string { return l.Header.Get(HeaderReplayOf) }

// CustomerID is the customer id of the command's Original-Subject under
// subj's prefix; "" for a create or a subject that does not parse.
func (l Letter) CustomerID(subj streams.Subjects) string {
	_, customer, _ := subj.ParseCommand(l.OriginalSubject())
	return customer
}

// replaySep joins a command id and a replay number in a replay's id.
const replaySep = "-replay-"

// Lineage returns the command that l is the dead letter of, or replays,
// and how many replays deep l is: ("8d1c", 0) for the dead letter of
// command 8d1c, ("8d1c", 2) for that of 8d1c-replay-2, a replay of 8d1c.
// It is read from l's own headers (Command-Id, and the Replay-Of that a
// replayed command carries into its dead letter), so it is the same
// however often it is asked.
func (l Letter) Lineage() (root string, gen int) {
	id, of := l.CommandID(), l.ReplayOf()
	if rest, ok := strings.CutPrefix(id, of+replaySep); of != "" && ok {
		if n, err := strconv.Atoi(rest); err == nil && n > 0 && strconv.Itoa(n) == rest {
			return of, n
		}
	}
	return id, 0
}

// ReplayID returns the command id and the Replay-Of header of l's replay:
// <command id>-replay-<n> and <command id>, where the command id is that
// of the command first published and n is one more than the replays
// before this one.
func (l Letter) ReplayID() (id, of string) {
	root, gen := l.Lineage()
	return root + replaySep + strconv.Itoa(gen+1), root
}

func (l Letter) depth() int {
	_, gen := l.Lineage()
	return gen
}

// isJetStreamHeader reports whether a header is one of JetStream's
// (Nats-Msg-Id, Nats-Expected-Stream, Nats-Expected-Last-Sequence,
// Nats-Rollup, Nats-TTL, ...), in any case. They ruled a command's publish
// to CRM_COMMANDS: neither its dead letter nor its replay keeps them
// (CRM_DLQ would refuse some, and a replay's Nats-Msg-Id is new). This is
// the one place that rule is written.
func isJetStreamHeader(k string) bool {
	return len(k) > 5 && strings.EqualFold(k[:5], "Nats-")
}
