package client

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/term"
)

// Palette writes results and messages for a person: term.Palette with the
// colours of results' statuses and of events' changes. Its zero value
// colours nothing.
type Palette struct{ term.Palette }

// NewPalette returns a palette that is on when w is a terminal and the
// NO_COLOR variable is empty (term.NewPalette).
func NewPalette(w io.Writer, getenv func(string) string) Palette {
	return Palette{term.NewPalette(w, getenv)}
}

// Status colours a result's status.
func (p Palette) Status(s string) string {
	switch s {
	case commands.StatusApplied:
		return p.Paint(term.Green, s)
	case commands.StatusRejected:
		return p.Paint(term.Red, s)
	case commands.StatusFailed:
		return p.Paint(term.Magenta, s)
	}
	return term.Clean(s)
}

// Change colours an event's change, padded to the width of the longest.
func (p Palette) Change(c string) string {
	padded := fmt.Sprintf("%-7s", term.Clean(c))
	switch c {
	case poller.Created:
		return p.Paint(term.Green, padded)
	case poller.Updated:
		return p.Paint(term.Yellow, padded)
	case poller.Deleted:
		return p.Paint(term.Red, padded)
	}
	return padded
}

// Result returns r on one line: status, op, customer id, command id,
// attempts and, unless applied, the error's code and message.
func (p Palette) Result(r commands.Result) string {
	var b strings.Builder
	b.WriteString(p.Status(r.Status))
	b.WriteString(" " + term.Clean(r.Op))
	if r.CustomerID != "" {
		b.WriteString(" " + p.Bold(term.Clean(r.CustomerID)))
	}
	attempts := "attempts"
	if r.Attempts == 1 {
		attempts = "attempt"
	}
	fmt.Fprintf(&b, " (command %s, %d %s)", term.Clean(r.CommandID), r.Attempts, attempts)
	if r.Error != nil {
		fmt.Fprintf(&b, ": %s: %s", p.Paint(term.Red, term.Clean(r.Error.Code)), term.Clean(r.Error.Message))
	}
	return b.String()
}

// ResultText returns r's line (Result) and, when its error names several
// fields, a line each (the line names the first); it ends in a newline.
func (p Palette) ResultText(r commands.Result) string {
	var b strings.Builder
	b.WriteString(p.Result(r) + "\n")
	if r.Error != nil && len(r.Error.Fields) > 1 {
		for _, f := range r.Error.Fields {
			fmt.Fprintf(&b, "  %s: %s (%s)\n", term.Clean(f.Field), term.Clean(f.Message), term.Clean(f.Rule))
		}
	}
	return b.String()
}

// Line returns m on one line, ending in a newline: when it was stored
// (term.Clock, as of now), then the event's change, customer and fields,
// or the result (Result).
func (p Palette) Line(m Message, now time.Time) []byte {
	var b strings.Builder
	b.WriteString(p.Paint(term.Dim, term.Clock(m.Stored, now)) + " ")
	switch {
	case m.Err != nil:
		fmt.Fprintf(&b, "%-7s %s: unreadable body %.80q", m.Kind, term.Clean(m.Subject), m.Data)
	case m.Kind == KindResult:
		b.WriteString(p.Paint(term.Cyan, "result") + "  " + p.Result(m.Result))
	default:
		b.WriteString(p.Change(m.Event.Change) + " " + p.Bold(term.Clean(m.Event.CustomerID)))
		if len(m.Event.Fields) > 0 {
			b.WriteString(" [" + term.Clean(strings.Join(m.Event.Fields, " ")) + "]")
		}
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// From says where w starts, for a person.
func (w Watch) From() string {
	switch {
	case w.All:
		return "from the start"
	case w.Since > 0:
		return "from " + w.Since.String() + " ago"
	}
	return "new messages only; --all from the start"
}
