package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/streams"
)

// A replay logs its progress every replayProgressEvery dead letters or
// replayProgressInterval, whichever comes first.
const (
	replayProgressEvery    = 1000
	replayProgressInterval = 5 * time.Second
)

// runDLQReplay is `bridge dlq replay`: it replays each chosen dead letter
// (see deadletter.Replayer). It prints a line per dead letter and a
// summary, logs progress on stderr, and fails naming each dead letter not
// replayed and each selector that names none. Before it replays anything,
// it warns on stderr of each update and delete that goes behind newer
// commands for its customer (see deadletter.Newer), and replays them all
// the same.
func runDLQReplay(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "dlq replay")
	all := fs.Bool("all", false, "replay every dead letter")
	dryRun := fs.Bool("dry-run", false, "print what would be replayed, and change nothing")
	sel, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkSelection("replay", sel, *all); err != nil {
		return err
	}
	q, closeNATS, err := cf.queue("dlq replay")
	if err != nil {
		return err
	}
	defer closeNATS()
	letters, err := q.All(ctx)
	if err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	chosen, missing := deadletter.Choose(letters, sel, *all)
	plan := deadletter.PlanReplays(letters, chosen, cf.Subjects())
	warnNewer(e.stderr, plan, deadletter.Newer(ctx, q.JS, plan, letters, cf.Subjects(), cf.Timeout))
	r := &replayReport{out: e.stdout, log: e.stderr, total: len(plan), dryRun: *dryRun, start: time.Now()}
	r.logged = r.start
	if len(letters) == 0 {
		fmt.Fprintf(e.stdout, "no dead letters in %s\n", streams.DLQ)
	} else if err := r.replay(ctx, q, plan); err != nil {
		return err
	}
	return r.result(missing)
}

// replay replays plan from q (or with dryRun, says what it would do),
// reporting on each dead letter.
func (r *replayReport) replay(ctx context.Context, q deadletter.Queue, plan []deadletter.Plan) error {
	if r.dryRun {
		deadletter.DryRun(plan, r.report)
		return nil
	}
	st, err := q.Stream(ctx)
	if err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	rp := deadletter.Replayer{JS: q.JS, Stream: st, Timeout: q.Timeout, Report: r.report}
	rp.Run(ctx, plan)
	return nil
}

// warnNewer prints the warnings of deadletter.Newer, by plan index.
func warnNewer(w io.Writer, plan []deadletter.Plan, warnings []string) {
	n := 0
	for i, s := range warnings {
		if s != "" {
			n++
			fmt.Fprintf(w, "dlq replay: WARNING: %s: %s\n", plan[i].Letter.Name(), s)
		}
	}
	if n > 0 {
		fmt.Fprintf(w, "dlq replay: WARNING: %d of %d dead letters may go behind newer commands for their customer (above)\n", n, len(plan))
	}
}

// replayReport prints what became of each dead letter of a replay, and
// its progress.
type replayReport struct {
	out, log      io.Writer // a line per dead letter and the summary; progress
	total         int
	dryRun        bool
	counts        deadletter.Tally
	failures      []string // the dead letters kept, in order
	start, logged time.Time
}

// report prints one dead letter's line, and the progress every
// replayProgressEvery dead letters or replayProgressInterval.
func (r *replayReport) report(rp deadletter.Report) {
	r.counts[rp.Outcome]++
	if rp.Outcome == deadletter.Kept {
		r.failures = append(r.failures, rp.Letter.Name()+": "+rp.How)
	}
	io.WriteString(r.out, rp.Line()+"\n")
	done, now := r.counts.Done(), time.Now()
	if !r.dryRun && (done%replayProgressEvery == 0 || now.Sub(r.logged) >= replayProgressInterval) {
		r.logged = now
		fmt.Fprintf(r.log, "dlq replay: %d of %d dead letters done: %s, %s\n", done, r.total, r.counts.Text(r.dryRun), dlqRate(done, now.Sub(r.start)))
	}
}

// dlqRate returns "<n/d>/s over <d>".
func dlqRate(n int, d time.Duration) string {
	return fmt.Sprintf("%.0f/s over %v", float64(n)/max(d.Seconds(), 1e-3), d.Round(time.Millisecond))
}

// result prints the summary and returns an error naming every dead letter
// not replayed and every selector that named none.
func (r *replayReport) result(missing []string) error {
	problems := r.failures
	for _, s := range missing {
		problems = append(problems, fmt.Sprintf("%q: no dead letter in %s has this stream sequence or command id", s, streams.DLQ))
	}
	if r.total > 0 || len(missing) > 0 {
		line := fmt.Sprintf("dlq replay: %d dead letters: %s", r.total, r.counts.Text(r.dryRun))
		if len(missing) > 0 {
			line += fmt.Sprintf("; %d not found", len(missing))
		}
		if r.dryRun {
			line += " (dry run: nothing changed)"
		} else if r.total > 0 {
			line += "; " + dlqRate(r.total, time.Since(r.start))
		}
		fmt.Fprintln(r.out, line)
	}
	if len(problems) == 0 {
		return nil
	}
	const most = 10
	msg := fmt.Sprintf("dlq replay: %d not replayed:\n  %s", len(problems), strings.Join(problems[:min(most, len(problems))], "\n  "))
	if len(problems) > most {
		msg += fmt.Sprintf("\n  and %d more (above)", len(problems)-most)
	}
	return errors.New(msg)
}
