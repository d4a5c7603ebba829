package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
// (stream sequence, command id, op, customer) and why (the reason);
// stdout gets a line per dead letter and a summary. It fails naming each
// dead letter it could not remove.
func runDLQDiscard(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "dlq discard")
	all := fs.Bool("all", false, "discard every dead letter")
	reason := fs.String("reason", "", "why the dead letters are discarded; logged with each (required)")
	dryRun := fs.Bool("dry-run", false, "print what would be discarded, and change nothing")
	sel, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkDiscard(sel, *all, *reason); err != nil {
		return err
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

// checkDiscard refuses a selection that checkSelection refuses, and a
// discard without a reason.
func checkDiscard(sel []string, all bool, reason string) error {
	if err := checkSelection("discard", sel, all); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return usagef("dlq discard: --reason is required: say why the dead letters are discarded (it is logged with each)")
	}
	return nil
}

// discardLog returns the logger of a discard by who for reason.
func discardLog(e env, who client.Operator, reason string) *slog.Logger {
	return newLogger(clientLogFormat(e.getenv), slog.LevelInfo, e.stderr).With(
		"os_user", who.OSUser, "host", who.Host, "nats_user", who.NATSUser, "nats_account", who.NATSAccount, "discard_reason", reason)
}

// notFound says that no dead letter has any of sel as stream sequence or
// command id.
func notFound(sel []string) string {
	q := make([]string, len(sel))
	for i, s := range sel {
		q[i] = fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("no dead letter in %s has the stream sequence or command id %s", streams.DLQ, strings.Join(q, ", "))
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
		return nil, fmt.Errorf("dlq discard: nothing discarded: %s", notFound(missing))
	}
	if len(letters) == 0 {
		fmt.Fprintf(d.out, "no dead letters in %s\n", streams.DLQ)
	}
	return chosen, nil
}

// run removes each of chosen, in order (deadletter.Discard), and returns
// an error naming those it did not remove. One that is gone already (removed meanwhile by a
// replay or another discard) is reported as such, and is no error.
func (d discarder) run(ctx context.Context, chosen []deadletter.Letter) error {
	var removed, gone int
	var failures []string
	deadletter.Discard(ctx, d.dlq, chosen, d.timeout, func(l deadletter.Letter, err error) {
		attrs := []any{"seq", l.Seq, "command_id", l.CommandID(), "op", l.Op(), "customer_id", l.CustomerID(d.subjects),
			"dlq_status", l.Status(), "dlq_reason", l.Reason()}
		head := l.Name()
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			gone++
			fmt.Fprintf(d.out, "%s: gone already (removed meanwhile)\n", head)
			d.log.Info("dead letter gone already", attrs...)
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: %v", head, err))
			fmt.Fprintf(d.out, "%s: NOT DISCARDED: %v\n", head, err)
			d.log.Warn("dead letter not discarded", append(attrs, "error", err.Error())...)
		default:
			removed++
			fmt.Fprintf(d.out, "%s: discarded\n", head)
			d.log.Info("dead letter discarded", attrs...)
		}
	})
	fmt.Fprintf(d.out, "dlq discard: %d dead letters: %d discarded, %d gone already, %d failed\n", len(chosen), removed, gone, len(failures))
	if len(failures) > 0 {
		return fmt.Errorf("dlq discard: %d not discarded (the others were):\n  %s", len(failures), strings.Join(failures, "\n  "))
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
