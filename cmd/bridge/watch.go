package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/client"
	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/term"
)

const watchUsage = `bridge watch [--json] [--all | --since DURATION] [--customer ID] [--limit N] [flags]

Prints the change events and command results of the stream CRM_EVENTS as
they arrive, one line each, until interrupted (exit status 0). By default
only those stored from now on; --all starts at the beginning of the stream,
--since 10m with those stored in the last ten minutes. --customer ID shows that customer's events and
the results of commands for it (an applied create's result included).

A line for a person (coloured on a terminal, unless NO_COLOR is set):
  15:04:05 created cus_124
  15:04:05 updated cus_123 [email lastName]
  15:04:05 result  applied create cus_124 (command 8d1c..., 1 attempt)
  15:04:05 result  rejected update cus_9 (command c-2, 0 attempts): VALIDATION: ...
The time is when the message was stored (local time; with the date unless
it is today).

With --json, one JSON object per line: the message's body (the event or
the result, as in the contract), preceded by
  "type"      "event" or "result"
  "seq"       the message's sequence in CRM_EVENTS
  "storedAt"  when it was stored (RFC 3339, UTC)
  "subject"   its subject
  "ceId", "ceSource"  for events: the CloudEvents id and source headers
for example
  {"type":"event","seq":7,"storedAt":"...","subject":"crm.customer.changed.cus_1","ceId":"...","ceSource":"gormic-crm/acme","customerId":"cus_1","change":"updated","fields":["email"],"before":{...},"after":{...},"updatedAt":"...","detectedAt":"..."}
  {"type":"result","seq":8,"storedAt":"...","subject":"crm.customer.result","commandId":"c-1","op":"update","status":"applied","customerId":"cus_1","attempts":1,"error":null,"finishedAt":"..."}
A message whose body is not a JSON object has "invalidBody" (the body as a
string) in place of the body's fields.`

// watchFlags are bridge watch's own flags.
type watchFlags struct {
	client.Watch
	json  bool
	limit int
}

// parseWatch parses bridge watch's command line.
func parseWatch(e env, args []string) (*clientFlags, watchFlags, error) {
	var w watchFlags
	fs, cf := clientFlagSet(e, "bridge watch", watchUsage)
	fs.BoolVar(&w.json, "json", false, "print JSON lines instead of lines for a person")
	fs.BoolVar(&w.All, "all", false, "start at the beginning of the stream")
	fs.DurationVar(&w.Since, "since", 0, "start with the messages stored this long ago, e.g. 10m")
	fs.StringVar(&w.Customer, "customer", "", "only this customer's events and results")
	fs.IntVar(&w.limit, "limit", 0, "stop after printing this many lines (0: never)")
	if err := fs.Parse(args); err != nil {
		return nil, w, parseErr(err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, w, usagef("watch: unexpected argument %q", fs.Arg(0))
	case w.All && w.Since != 0:
		return nil, w, usagef("watch: --all and --since exclude each other")
	case w.Since < 0 || w.limit < 0:
		return nil, w, usagef("watch: --since and --limit cannot be negative")
	}
	return cf, w, nil
}

func runWatch(ctx context.Context, e env, args []string) error {
	cf, w, err := parseWatch(e, args)
	if err != nil {
		return err
	}
	nc, js, err := cf.connect("watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := client.WaitStream(ctx, js, cf.Timeout, e.stderr); err != nil || ctx.Err() != nil {
		return err
	}
	started := func(filters []string) {
		fmt.Fprintf(e.stderr, "bridge watch: watching %s on %s (%s); Ctrl-C to stop\n", strings.Join(filters, " and "), config.RedactURL(cf.URL), watchFrom(w.Watch))
	}
	p, printed := newPalette(e.stdout, e.getenv), 0
	return w.Follow(ctx, js, cf.Subjects(), started, func(m client.Message) (bool, error) {
		var line []byte
		if w.json {
			line = m.JSON()
		} else {
			line = watchLine(p, m, time.Now())
		}
		if _, err := e.stdout.Write(line); err != nil {
			return false, err
		}
		printed++
		return w.limit == 0 || printed < w.limit, nil
	})
}

// watchFrom says where the watch starts, for a person.
func watchFrom(w client.Watch) string {
	switch {
	case w.All:
		return "from the start"
	case w.Since > 0:
		return "from " + w.Since.String() + " ago"
	}
	return "new messages only; --all from the start"
}

// watchLine returns m's line for a person, ending in a newline.
func watchLine(p palette, m client.Message, now time.Time) []byte {
	var b strings.Builder
	b.WriteString(p.Paint(term.Dim, term.Clock(m.Stored, now)) + " ")
	switch {
	case m.Err != nil:
		fmt.Fprintf(&b, "%-7s %s: unreadable body %.80q", m.Kind, term.Clean(m.Subject), m.Data)
	case m.Kind == client.KindResult:
		b.WriteString(p.Paint(term.Cyan, "result") + "  " + resultLine(p, m.Result))
	default:
		b.WriteString(p.change(m.Event.Change) + " " + p.Bold(term.Clean(m.Event.CustomerID)))
		if len(m.Event.Fields) > 0 {
			b.WriteString(" [" + term.Clean(strings.Join(m.Event.Fields, " ")) + "]")
		}
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// palette is term.Palette with the colours of results' statuses and of
// events' changes.
type palette struct{ term.Palette }

// newPalette returns a palette that is on when w is a terminal and the
// NO_COLOR variable is empty (term.NewPalette).
func newPalette(w io.Writer, getenv func(string) string) palette {
	return palette{term.NewPalette(w, getenv)}
}

// status colours a result's status.
func (p palette) status(s string) string {
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

// change colours an event's change, padded to the width of the longest.
func (p palette) change(c string) string {
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
