package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/streams"
)

// runDLQ is `bridge dlq list`, `bridge dlq replay` and `bridge dlq
// discard`.
func runDLQ(ctx context.Context, e env, args []string) error {
	synopses := fmt.Sprintf("  %s\n  %s\n  %s", usage("dlq list"), usage("dlq replay"), usage("dlq discard"))
	if len(args) == 0 {
		return usagef("dlq: want list, replay or discard:\n%s", synopses)
	}
	switch args[0] {
	case "list":
		return runDLQList(ctx, e, args[1:])
	case "replay":
		return runDLQReplay(ctx, e, args[1:])
	case "discard":
		return runDLQDiscard(ctx, e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprintf(e.stdout, "Usage:\n%s\n\nbridge dlq SUBCOMMAND --help lists the flags.\n", synopses)
		return flag.ErrHelp
	}
	return usagef("dlq: unknown subcommand %q (want list, replay or discard)", args[0])
}

// runDLQList is `bridge dlq list`: the dead letters, oldest first, a table
// row or (--json) a JSON object each, or "no dead letters in CRM_DLQ".
func runDLQList(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "dlq list")
	asJSON := fs.Bool("json", false, "one JSON object per line, with the command's headers and body")
	op := fs.String("op", "", "only the dead letters of this op: create, update, delete or unknown")
	limit := fs.Int("limit", 0, "show at most N dead letters, the oldest first (0: all)")
	if err := parseFlags(fs, args, "dlq list"); err != nil {
		return err
	}
	switch {
	case *op != "" && !slices.Contains(deadletter.Ops, *op):
		return usagef("dlq list: --op %q: want create, update, delete or unknown", *op)
	case *limit < 0:
		return usagef("dlq list: --limit %d: want 0 (all) or more", *limit)
	}
	q, closeNATS, err := cf.queue("dlq list")
	if err != nil {
		return err
	}
	defer closeNATS()
	shown, total, err := printDLQ(ctx, e.stdout, q, *op, *limit, *asJSON)
	if err != nil {
		return fmt.Errorf("dlq list: %w", err)
	}
	note := e.stdout
	if *asJSON {
		note = e.stderr // stdout holds JSON alone
	}
	listNote(note, *op, shown, total)
	return nil
}

// listNote says on w that there are no dead letters of op ("" for all),
// or how many of them were shown.
func listNote(w io.Writer, op string, shown, total int) {
	what := strings.TrimSpace(op + " dead letters")
	switch {
	case total == 0:
		fmt.Fprintf(w, "no %s in %s\n", what, streams.DLQ)
	case shown < total:
		fmt.Fprintf(w, "(%d of %d %s shown)\n", shown, total, what)
	}
}

// printDLQ prints up to limit (0: all) dead letters of op from q on w: a
// table (deadletter.Columns) or, asJSON, a deadletter.Record per line.
// It returns how many it printed and how many q held.
func printDLQ(ctx context.Context, w io.Writer, q deadletter.Queue, op string, limit int, asJSON bool) (shown, total int, err error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) // flushed only when it holds a row
	if !asJSON {
		fmt.Fprintln(tw, strings.Join(deadletter.Columns, "\t"))
	}
	var printErr error
	total, err = q.Read(ctx, op, func(l deadletter.Letter) bool {
		if asJSON {
			printErr = printJSON(w, l.Record(q.Subjects))
		} else {
			_, printErr = fmt.Fprintln(tw, strings.Join(l.Cells(q.Subjects), "\t"))
		}
		if printErr != nil {
			return false
		}
		shown++
		return limit == 0 || shown < limit
	})
	err = errors.Join(err, printErr)
	if !asJSON && shown > 0 {
		err = errors.Join(err, tw.Flush())
	}
	return shown, total, err
}

// printJSON prints v as JSON on a line of its own.
func printJSON(w io.Writer, v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return printLine(w, line)
}
