package deadletter

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/streams"
)

// A replay's progress is due every progressEvery dead letters or
// progressInterval, whichever comes first.
const (
	progressEvery    = 1000
	progressInterval = 5 * time.Second
)

// mostNamed bounds the dead letters and selectors that Summary.Err names.
const mostNamed = 10

// Summary tallies what became of the dead letters of a replay, report by
// report (from Replayer.Run or DryRun), and paces its progress. Make it
// with NewSummary; it is not safe for concurrent use (Replayer.Report is
// called one report at a time).
type Summary struct {
	Total  int  // the dead letters of the plan
	DryRun bool // what would become of them, and nothing changed
	Tally  Tally
	// Kept names each dead letter kept, in order, and why: its Report.Line
	// less "NOT REPLAYED".
	Kept          []string
	start, logged time.Time
}

// NewSummary returns the Summary of a replay of total dead letters that
// starts at start.
func NewSummary(total int, dryRun bool, start time.Time) *Summary {
	return &Summary{Total: total, DryRun: dryRun, start: start, logged: start}
}

// Add counts r, reported at now, and returns the progress for a person
// when it is due ("" otherwise): every 1,000 dead letters, or 5s after the
// last, and never in a dry run. It reads "<done> of <total> dead letters
// done: <Tally.Text>, <n>/s over <elapsed>".
func (s *Summary) Add(r Report, now time.Time) (progress string) {
	s.Tally[r.Outcome]++
	if r.Outcome == Kept {
		s.Kept = append(s.Kept, r.Letter.Name()+": "+r.How)
	}
	done := s.Tally.Done()
	if s.DryRun || (done%progressEvery != 0 && now.Sub(s.logged) < progressInterval) {
		return ""
	}
	s.logged = now
	return fmt.Sprintf("%d of %d dead letters done: %s, %s", done, s.Total, s.Tally.Text(false), rate(done, now.Sub(s.start)))
}

// Line sums the replay up at now for a person: how many dead letters, the
// Tally, how many of the selectors named none (missing), and the rate or
// that it was a dry run. It is "" when there were neither dead letters
// nor missing selectors.
func (s *Summary) Line(missing []string, now time.Time) string {
	if s.Total == 0 && len(missing) == 0 {
		return ""
	}
	line := fmt.Sprintf("%d dead letters: %s", s.Total, s.Tally.Text(s.DryRun))
	if len(missing) > 0 {
		line += fmt.Sprintf("; %d not found", len(missing))
	}
	if s.DryRun {
		line += " (dry run: nothing changed)"
	} else if s.Total > 0 {
		line += "; " + rate(s.Total, now.Sub(s.start))
	}
	return line
}

// Err returns an error naming each dead letter kept and then each
// selector of missing (that named no dead letter), the first ten of them
// on a line each; nil when there are none.
func (s *Summary) Err(missing []string) error {
	problems := s.Kept
	for _, sel := range missing {
		problems = append(problems, fmt.Sprintf("%q: no dead letter in %s has this stream sequence or command id", sel, streams.DLQ))
	}
	if len(problems) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d not replayed:\n  %s", len(problems), strings.Join(problems[:min(mostNamed, len(problems))], "\n  "))
	if len(problems) > mostNamed {
		msg += fmt.Sprintf("\n  and %d more (above)", len(problems)-mostNamed)
	}
	return errors.New(msg)
}

// rate returns "<n/d>/s over <d>", d to the millisecond.
func rate(n int, d time.Duration) string {
	return fmt.Sprintf("%.0f/s over %v", float64(n)/max(d.Seconds(), 1e-3), d.Round(time.Millisecond))
}
