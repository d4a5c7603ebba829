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
	"time"

	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/streams"
)

const (
	dlqListUsage   = "bridge dlq list [--json] [--op create|update|delete|unknown] [--limit N] [flags]"
	dlqReplayUsage = "bridge dlq replay (--all | SEQ|COMMAND-ID ...) [--dry-run] [flags]"
)

// runDLQ is `bridge dlq list`, `bridge dlq replay` and `bridge dlq
// discard`.
func runDLQ(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usagef("dlq: want list, replay or discard:\n  %s\n  %s\n  %s", dlqListUsage, dlqReplayUsage, dlqDiscardUsage)
	}
	switch args[0] {
	case "list":
		return runDLQList(ctx, e, args[1:])
	case "replay":
		return runDLQReplay(ctx, e, args[1:])
	case "discard":
		return runDLQDiscard(ctx, e, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprintf(e.stdout, "Usage:\n  %s\n  %s\n  %s\n\nbridge dlq SUBCOMMAND --help lists the flags.\n", dlqListUsage, dlqReplayUsage, dlqDiscardUsage)
		return flag.ErrHelp
	}
	return usagef("dlq: unknown subcommand %q (want list, replay or discard)", args[0])
}

// runDLQList is `bridge dlq list`: the dead letters, oldest first, a table
// row or (--json) a JSON object each, or "no dead letters in CRM_DLQ".
func runDLQList(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "bridge dlq list", dlqListUsage)
	asJSON := fs.Bool("json", false, "one JSON object per line, with the command's headers and body")
	op := fs.String("op", "", "only the dead letters of this op: create, update, delete or unknown")
	limit := fs.Int("limit", 0, "show at most N dead letters, the oldest first (0: all)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkList(pos, *op, *limit); err != nil {
		return err
	}
	q, closeNATS, err := cf.queue("dlq list")
	if err != nil {
		return err
	}
	defer closeNATS()
	p := dlqPrinter{w: e.stdout, subjects: cf.Subjects(), json: *asJSON}
	shown, total, err := p.list(ctx, q, *op, *limit)
	if err != nil {
		return fmt.Errorf("dlq list: %w", err)
	}
	note := e.stdout
	if p.json {
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

// checkList refuses the arguments of a dlq list: any, an unknown op, or a
// negative limit.
func checkList(pos []string, op string, limit int) error {
	switch {
	case len(pos) > 0:
		return usagef("dlq list: unexpected argument %q", pos[0])
	case op != "" && !slices.Contains(deadletter.Ops, op):
		return usagef("dlq list: --op %q: want create, update, delete or unknown", op)
	case limit < 0:
		return usagef("dlq list: --limit %d: want 0 (all) or more", limit)
	}
	return nil
}

// dlqPrinter prints dead letters as a table or as JSON lines
// (deadletter.Record).
type dlqPrinter struct {
	w        io.Writer
	tw       *tabwriter.Writer
	subjects streams.Subjects
	json     bool
	err      error
}

// list prints up to limit (0: all) dead letters of op from q, under a
// table's header unless p prints JSON, and returns how many it printed
// and how many q held.
func (p *dlqPrinter) list(ctx context.Context, q deadletter.Queue, op string, limit int) (shown, total int, err error) {
	if !p.json {
		p.tw = tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, "SEQ\tTIME\tOP\tCOMMAND\tCUSTOMER\tSTATUS\tREASON")
	}
	total, err = q.Read(ctx, op, func(l deadletter.Letter) bool {
		if p.err = p.print(l); p.err != nil {
			return false
		}
		shown++
		return limit == 0 || shown < limit
	})
	err = errors.Join(err, p.err)
	if p.tw != nil && shown > 0 {
		err = errors.Join(err, p.tw.Flush())
	}
	return shown, total, err
}

func (p *dlqPrinter) print(l deadletter.Letter) error {
	if !p.json {
		_, err := fmt.Fprintf(p.tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Seq, l.Stored.UTC().Format(time.RFC3339), l.Op(),
			dlqCell(l.CommandID()), dlqCell(l.CustomerID(p.subjects)), dlqCell(l.Status()), dlqOneLine(l.Reason()))
		return err
	}
	line, err := json.Marshal(l.Record(p.subjects))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.w, "%s\n", line)
	return err
}

// dlqCell returns s for a table cell: "-" when empty, without tabs and line
// breaks.
func dlqCell(s string) string {
	if s == "" {
		return "-"
	}
	return dlqOneLine(s)
}

// dlqOneLine returns s with its control characters as spaces.
func dlqOneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// dlqHead names a dead letter at the start of a line.
func dlqHead(l deadletter.Letter) string {
	return fmt.Sprintf("seq %d command %s", l.Seq, dlqCell(l.CommandID()))
}

// checkSelection refuses a selection of dead letters for verb (replay,
// discard) that names both --all and dead letters, or neither.
func checkSelection(verb string, sel []string, all bool) error {
	switch {
	case all && len(sel) > 0:
		return usagef("dlq %s: --all and named dead letters (%s) together; want one or the other", verb, strings.Join(sel, " "))
	case !all && len(sel) == 0:
		return usagef("dlq %s: name the dead letters to %s (SEQ or COMMAND-ID, as bridge dlq list shows them), or give --all", verb, verb)
	}
	return nil
}

// queue connects to NATS as name and returns its dead-letter queue, and
// the function that closes the connection.
func (c clientFlags) queue(name string) (deadletter.Queue, func(), error) {
	nc, js, err := c.connect(name)
	if err != nil {
		return deadletter.Queue{}, nil, err
	}
	return deadletter.Queue{JS: js, Subjects: c.Subjects(), Timeout: c.Timeout}, nc.Close, nil
}
