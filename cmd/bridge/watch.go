package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
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

// watchOptions are bridge watch's own flags.
type watchOptions struct {
	json, all bool
	since     time.Duration
	customer  string
	limit     int
}

func runWatch(ctx context.Context, e env, args []string) error {
	var cf clientFlags
	var o watchOptions
	fs := flagSet(e, "bridge watch", watchUsage)
	cf.register(fs, e.getenv)
	fs.BoolVar(&o.json, "json", false, "print JSON lines instead of lines for a person")
	fs.BoolVar(&o.all, "all", false, "start at the beginning of the stream")
	fs.DurationVar(&o.since, "since", 0, "start with the messages stored this long ago, e.g. 10m")
	fs.StringVar(&o.customer, "customer", "", "only this customer's events and results")
	fs.IntVar(&o.limit, "limit", 0, "stop after printing this many lines (0: never)")
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	switch {
	case fs.NArg() > 0:
		return usagef("watch: unexpected argument %q", fs.Arg(0))
	case o.all && o.since != 0:
		return usagef("watch: --all and --since exclude each other")
	case o.since < 0 || o.limit < 0:
		return usagef("watch: --since and --limit cannot be negative")
	}
	nc, js, err := cf.connect("watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := waitStream(ctx, js, cf.timeout, e.stderr); err != nil || ctx.Err() != nil {
		return err
	}
	w := watcher{subj: cf.subjects(), opts: o, palette: newPalette(e.stdout, e.getenv), now: time.Now}
	c, err := js.OrderedConsumer(ctx, streams.Events, w.consumerConfig())
	if err != nil {
		return fmt.Errorf("watch %s: %w", streams.Events, err)
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("watch %s: %w", streams.Events, err)
	}
	defer it.Stop()
	fmt.Fprintf(e.stderr, "bridge watch: watching %s on %s (%s); Ctrl-C to stop\n", strings.Join(w.consumerConfig().FilterSubjects, " and "), config.RedactURL(cf.url), w.from())
	for printed := 0; o.limit == 0 || printed < o.limit; {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch %s: %w", streams.Events, err)
		}
		line := w.line(m)
		if line == nil {
			continue
		}
		if _, err := e.stdout.Write(line); err != nil {
			return err
		}
		printed++
	}
	return nil
}

// waitStream waits up to timeout for CRM_EVENTS to exist, as it does not
// until a bridge has started once; it returns nil when ctx ends first.
func waitStream(ctx context.Context, js jetstream.JetStream, timeout time.Duration, stderr io.Writer) error {
	deadline := time.Now().Add(timeout)
	for noted := false; ; noted = true {
		_, err := js.Stream(ctx, streams.Events)
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case !errors.Is(err, jetstream.ErrStreamNotFound):
			return fmt.Errorf("watch: look up the stream %s: %w", streams.Events, err)
		case time.Now().After(deadline):
			return fmt.Errorf("watch: no stream %s after %v: has a bridge run against this NATS? (it creates the stream)", streams.Events, timeout)
		case !noted:
			fmt.Fprintf(stderr, "bridge watch: no stream %s yet; waiting up to %v for a bridge to create it\n", streams.Events, timeout)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// watcher turns the messages of CRM_EVENTS into lines.
type watcher struct {
	subj    streams.Subjects
	opts    watchOptions
	palette palette
	now     func() time.Time
}

func (w watcher) consumerConfig() jetstream.OrderedConsumerConfig {
	changed := w.subj.AllChanged()
	if w.opts.customer != "" {
		changed = w.subj.Changed(w.opts.customer)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{changed, w.subj.Result()},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	switch {
	case w.opts.all:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case w.opts.since > 0:
		start := w.now().Add(-w.opts.since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	return cfg
}

// from says where the watch starts, for a person.
func (w watcher) from() string {
	switch {
	case w.opts.all:
		return "from the start"
	case w.opts.since > 0:
		return "from " + w.opts.since.String() + " ago"
	}
	return "new messages only; --all from the start"
}

// line returns m's line, ending in a newline, or nil when m is a result
// of another customer than the one watched.
func (w watcher) line(m jetstream.Msg) []byte {
	kind := "event"
	if m.Subject() == w.subj.Result() {
		kind = "result"
	}
	// Only what a line shows is decoded, so that a field this version does
	// not know cannot make a message unreadable.
	var res commands.Result
	var ev struct {
		CustomerID string   `json:"customerId"`
		Change     string   `json:"change"`
		Fields     []string `json:"fields"`
	}
	var err error
	if kind == "result" {
		err = json.Unmarshal(m.Data(), &res)
		if w.opts.customer != "" && res.CustomerID != w.opts.customer {
			return nil
		}
	} else {
		err = json.Unmarshal(m.Data(), &ev)
	}
	var seq uint64
	stored := w.now()
	if meta, err := m.Metadata(); err == nil {
		seq, stored = meta.Sequence.Stream, meta.Timestamp
	}
	if w.opts.json {
		return w.jsonLine(kind, m, seq, stored)
	}
	p := w.palette
	var b strings.Builder
	b.WriteString(p.paint(colourDim, clock(stored, w.now())) + " ")
	switch {
	case err != nil:
		fmt.Fprintf(&b, "%-7s %s: unreadable body %.80q", kind, clean(m.Subject()), m.Data())
	case kind == "result":
		b.WriteString(p.paint(colourCyan, "result") + "  " + resultLine(p, res))
	default:
		b.WriteString(p.change(ev.Change) + " " + p.bold(clean(ev.CustomerID)))
		if len(ev.Fields) > 0 {
			b.WriteString(" [" + clean(strings.Join(ev.Fields, " ")) + "]")
		}
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// jsonLine returns m as one JSON object, described in watchUsage.
func (w watcher) jsonLine(kind string, m jetstream.Msg, seq uint64, stored time.Time) []byte {
	var b bytes.Buffer
	add := func(name string, v any) {
		if b.Len() == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		val, _ := json.Marshal(v)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	add("type", kind)
	add("seq", seq)
	add("storedAt", stored.UTC().Format(time.RFC3339Nano))
	add("subject", m.Subject())
	if kind == "event" {
		for name, h := range map[string]string{"ceId": poller.HeaderID, "ceSource": poller.HeaderSource} {
			if v := m.Headers().Get(h); v != "" {
				add(name, v)
			}
		}
	}
	var body bytes.Buffer
	if err := json.Compact(&body, m.Data()); err != nil || body.Len() < 2 || body.Bytes()[0] != '{' {
		add("invalidBody", string(m.Data()))
	} else if inner := body.Bytes()[1 : body.Len()-1]; len(inner) > 0 {
		b.WriteByte(',')
		b.Write(inner)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// clock returns t in local time: the time of day, with the date unless t
// is on now's day.
func clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format(time.TimeOnly)
	}
	return t.Format(time.DateTime)
}

// clean replaces control characters, such as the escape that starts a
// terminal's control sequence, so that text from messages is printed as
// text.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// ANSI SGR codes of the colours the subcommands use.
const (
	colourBold    = "1"
	colourDim     = "2"
	colourRed     = "31"
	colourGreen   = "32"
	colourYellow  = "33"
	colourMagenta = "35"
	colourCyan    = "36"
)

// palette colours text with ANSI escapes, or leaves it alone when off.
type palette struct{ on bool }

// newPalette returns a palette that is on when w is a terminal and the
// NO_COLOR variable is empty (https://no-color.org).
func newPalette(w io.Writer, getenv func(string) string) palette {
	return palette{on: isTerminal(w) && getenv("NO_COLOR") == ""}
}

func (p palette) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p palette) bold(s string) string { return p.paint(colourBold, s) }

// status colours a result's status.
func (p palette) status(s string) string {
	switch s {
	case commands.StatusApplied:
		return p.paint(colourGreen, s)
	case commands.StatusRejected:
		return p.paint(colourRed, s)
	case commands.StatusFailed:
		return p.paint(colourMagenta, s)
	}
	return clean(s)
}

// change colours an event's change, padded to the width of the longest.
func (p palette) change(c string) string {
	padded := fmt.Sprintf("%-7s", clean(c))
	switch c {
	case poller.Created:
		return p.paint(colourGreen, padded)
	case poller.Updated:
		return p.paint(colourYellow, padded)
	case poller.Deleted:
		return p.paint(colourRed, padded)
	}
	return padded
}
