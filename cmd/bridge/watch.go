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

// watchFlags are bridge watch's own flags.
type watchFlags struct {
	client.Watch
	json  bool
	limit int
}

// parseWatch parses bridge watch's command line.
func parseWatch(e env, args []string) (*clientFlags, watchFlags, error) {
	var w watchFlags
	fs, cf := clientFlagSet(e, "watch")
	fs.BoolVar(&w.json, "json", false, "print JSON lines instead of lines for a person")
	fs.BoolVar(&w.All, "all", false, "start at the beginning of the stream")
	fs.DurationVar(&w.Since, "since", 0, "start with the messages stored this long ago, e.g. 10m")
	fs.StringVar(&w.Customer, "customer", "", "only this customer's events and results")
	fs.IntVar(&w.limit, "limit", 0, "stop after printing this many lines (0: never)")
	if err := parseFlags(fs, args, "watch"); err != nil {
		return nil, w, err
	}
	switch {
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
