package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/client"
	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/streams"
)

// runDLQDiscard is `bridge dlq discard`: it removes the chosen dead
// letters for good, without replaying them. It chooses them as `dlq
// replay` does (see deadletter.Choose), and removes nothing when a
// selector names no dead letter. --reason is required. Each removal is
// logged on stderr with who removed it (see client.Operator), what
// (deadletter.Audit) and why (the reason); stdout gets a line per dead
// letter and a summary. It fails naming each dead letter it could not
// remove.
func runDLQDiscard(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "dlq discard")
	all := fs.Bool("all", false, "discard every dead letter")
	reason := fs.String("reason", "", "why the dead letters are discarded; logged with each (required)")
	dryRun := fs.Bool("dry-run", false, "print what would be discarded, and change nothing")
	sel, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := deadletter.CheckDiscard(sel, *all, *reason); err != nil {
		return usagef("dlq discard: %v", err)
	}
	nc, js, err := cf.connect("dlq discard")
	if err != nil {
		return err
	}
	defer nc.Close()
	q := deadletter.Queue{JS: js, Subjects: cf.Subjects(), Timeout: cf.Timeout}
	d := discarder{out: e.stdout, subjects: cf.Subjects(), timeout: cf.Timeout}
	chosen, err := d.choose(ctx, q, sel, *all)
	if err != nil || len(chosen) == 0 {
		return err
	}
	if *dryRun {
		return d.dryRun(chosen)
	}
	d.log = discardLog(e, client.Whoami(nc, cf.Timeout), *reason)
	if d.dlq, err = q.Stream(ctx); err != nil {
		return fmt.Errorf("dlq discard: %w", err)
	}
	return d.run(ctx, chosen)
}

// discardLog returns the logger of a discard by who for reason.
func discardLog(e env, who client.Operator, reason string) *slog.Logger {
	log := newLogger(clientLogFormat(e.getenv), slog.LevelInfo, e.stderr)
	return log.With(append(who.LogAttrs(), "discard_reason", reason)...)
}

// discarder removes dead letters and reports on each.
type discarder struct {
	dlq      jetstream.Stream
	log      *slog.Logger // who, what and why, a line per dead letter
	out      io.Writer    // a line per dead letter, and the summary
	subjects streams.Subjects
	timeout  time.Duration
}

// choose reads the dead letters and returns those that sel names, or all
// (deadletter.Choose); none, having said so, when there are none. It
// fails, having removed nothing, when a selector names none.
func (d discarder) choose(ctx context.Context, q deadletter.Queue, sel []string, all bool) ([]deadletter.Letter, error) {
	letters, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("dlq discard: %w", err)
	}
	chosen, missing := deadletter.Choose(letters, sel, all)
	if len(missing) > 0 {
		return nil, fmt.Errorf("dlq discard: nothing discarded: %w", deadletter.NotFoundError{Selectors: missing})
	}
	if len(letters) == 0 {
		fmt.Fprintf(d.out, "no dead letters in %s\n", streams.DLQ)
	}
	return chosen, nil
}

// run removes each of chosen, in order (deadletter.Discard), and returns
// an error naming those it did not remove (deadletter.Discards). One that
// is gone already (removed meanwhile by a replay or another discard) is
// reported as such, and is no error.
func (d discarder) run(ctx context.Context, chosen []deadletter.Letter) error {
	var tally deadletter.Discards
	deadletter.Discard(ctx, d.dlq, chosen, d.timeout, func(l deadletter.Letter, err error) {
		fmt.Fprintln(d.out, tally.Add(l, err))
		deadletter.Audit(d.log, d.subjects, l, err)
	})
	fmt.Fprintln(d.out, "dlq discard: "+tally.Text())
	if err := tally.Err(); err != nil {
		return fmt.Errorf("dlq discard: %w", err)
	}
	return nil
}

// dryRun reports what run would remove.
func (d discarder) dryRun(chosen []deadletter.Letter) error {
	for _, l := range chosen {
		fmt.Fprintf(d.out, "%s: would be discarded\n", l.Name())
	}
	fmt.Fprintf(d.out, "dlq discard: %d dead letters would be discarded (dry run: nothing changed)\n", len(chosen))
	return nil
}

// clientLogFormat returns BRIDGE_LOG_FORMAT for a client subcommand's
// log: text, json, or auto (the default, and for anything else).
func clientLogFormat(getenv func(string) string) string {
	if f := getenv("BRIDGE_LOG_FORMAT"); f == "text" || f == "json" {
		return f
	}
	return "auto"
}
