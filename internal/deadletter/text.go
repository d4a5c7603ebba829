package deadletter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Columns head a table of dead letters for a person; Letter.Cells gives
// its rows.
var Columns = []string{"SEQ", "TIME", "OP", "COMMAND", "CUSTOMER", "STATUS", "REASON"}

// Cells returns l's row of a table under Columns: when it was stored
// (RFC 3339, UTC), its customer id read under subj, each cell on one line
// and "-" when empty.
func (l Letter) Cells(subj streams.Subjects) []string {
	return []string{strconv.FormatUint(l.Seq, 10), l.Stored.UTC().Format(time.RFC3339), l.Op(),
		cell(l.CommandID()), cell(l.CustomerID(subj)), cell(l.Status()), oneLine(l.Reason())}
}

// Name names l for a person at the start of a line: "seq 12 command c-1".
func (l Letter) Name() string {
	return fmt.Sprintf("seq %d command %s", l.Seq, cell(l.CommandID()))
}

// Line says what became of r's dead letter, for a person: its Name, then
// How, after "NOT REPLAYED: " when it was kept.
func (r Report) Line() string {
	if r.Outcome == Kept {
		return r.Letter.Name() + ": NOT REPLAYED: " + r.How
	}
	return r.Letter.Name() + ": " + r.How
}

// NewerText returns the warnings of Newer for plan for a person: a line
// "<Name>: <warning>" for each, then one that counts them; none when there
// are none.
func NewerText(plan []Plan, warnings []string) []string {
	var lines []string
	for i, w := range warnings {
		if w != "" {
			lines = append(lines, plan[i].Letter.Name()+": "+w)
		}
	}
	if len(lines) > 0 {
		lines = append(lines, fmt.Sprintf("%d of %d dead letters may go behind newer commands for their customer (above)", len(lines), len(plan)))
	}
	return lines
}

// Tally counts the dead letters of a replay by Outcome.
type Tally [3]int

// Done returns how many dead letters t counts.
func (t Tally) Done() int { return t[Replayed] + t[Removed] + t[Kept] }

// Text says t's counts for a person; with dryRun, as what would become of
// the dead letters.
func (t Tally) Text(dryRun bool) string {
	if dryRun {
		return fmt.Sprintf("%d would be replayed, %d would be removed as replayed already, %d cannot be replayed", t[Replayed], t[Removed], t[Kept])
	}
	return fmt.Sprintf("%d replayed, %d removed as replayed already, %d failed", t[Replayed], t[Removed], t[Kept])
}

// cell returns s for a table cell: "-" when empty, on one line.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return oneLine(s)
}

// oneLine returns s with its control characters as spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
