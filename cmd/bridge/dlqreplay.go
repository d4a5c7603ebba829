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
	} else if err := replay(ctx, e, q, plan, sum); err != nil {
		return err
	}
	if line := sum.Line(missing, time.Now()); line != "" {
		fmt.Fprintln(e.stdout, "dlq replay: "+line)
	}
	if err := sum.Err(missing); err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	return nil
}

// replay replays plan from q (or in a dry run, says what it would do),
// printing a line per dead letter on stdout and the progress on stderr,
// and tallying them in sum.
func replay(ctx context.Context, e env, q deadletter.Queue, plan []deadletter.Plan, sum *deadletter.Summary) error {
	report := func(r deadletter.Report) {
		io.WriteString(e.stdout, r.Line()+"\n")
		if progress := sum.Add(r, time.Now()); progress != "" {
			fmt.Fprintln(e.stderr, "dlq replay: "+progress)
		}
	}
	if sum.DryRun {
		deadletter.DryRun(plan, report)
		return nil
	}
	st, err := q.Stream(ctx)
	if err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	rp := deadletter.Replayer{JS: q.JS, Stream: st, Timeout: q.Timeout, Report: report}
	rp.Run(ctx, plan)
	return nil
}
