package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/streams"
)

// runDLQReplay is `bridge dlq replay`: it replays each chosen dead letter
// (see deadletter.Replayer). It prints a line per dead letter and a
// summary, logs progress on stderr, and fails naming each dead letter not
// replayed and each selector that names none (see deadletter.Summary).
// Before it replays anything, it warns on stderr of each update and delete
// that goes behind newer commands for its customer (see
// deadletter.Newer), and replays them all the same.
func runDLQReplay(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "dlq replay")
	all := fs.Bool("all", false, "replay every dead letter")
	dryRun := fs.Bool("dry-run", false, "print what would be replayed, and change nothing")
	sel, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := deadletter.CheckSelection("replay", sel, *all); err != nil {
		return usagef("dlq replay: %v", err)
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
	for _, w := range deadletter.NewerText(plan, deadletter.Newer(ctx, q.JS, plan, letters, cf.Subjects(), cf.Timeout)) {
		fmt.Fprintln(e.stderr, "dlq replay: WARNING: "+w)
	}
	sum := deadletter.NewSummary(len(plan), *dryRun, time.Now())
	if len(letters) == 0 {
		fmt.Fprintf(e.stdout, "no dead letters in %s\n", streams.DLQ)
	} else if err := q.Replay(ctx, plan, *dryRun, replayReport(e, sum)); err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	if line := sum.Line(missing, time.Now()); line != "" {
		fmt.Fprintln(e.stdout, "dlq replay: "+line)
	}
	if err := sum.Err(missing); err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	return nil
}

// replayReport returns the report of each dead letter of a replay: it
// prints its line on stdout, tallies it in sum, and prints the progress on
// stderr when it is due.
func replayReport(e env, sum *deadletter.Summary) func(deadletter.Report) {
	return func(r deadletter.Report) {
		io.WriteString(e.stdout, r.Line()+"\n")
		if progress := sum.Add(r, time.Now()); progress != "" {
			fmt.Fprintln(e.stderr, "dlq replay: "+progress)
		}
	}
}
