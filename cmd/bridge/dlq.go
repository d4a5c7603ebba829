package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
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

// deadLetter is one message of CRM_DLQ, as internal/commands writes it:
// the command's body and headers, Nats-Msg-Id dlq-<command id>, and the
// headers Command-Id, Dlq-Status, Dlq-Reason and Original-Subject.
type deadLetter struct {
	seq     uint64
	stored  time.Time
	subject string
	header  nats.Header
	data    []byte
}

// op is the last token of the dead letter's subject: create, update,
// delete, or unknown for a command whose subject did not parse.
func (d deadLetter) op() string { return d.subject[strings.LastIndexByte(d.subject, '.')+1:] }

func (d deadLetter) commandID() string { return d.header.Get(commands.HeaderCommandID) }

// replaySep joins a command id and a replay number in a replay's id.
const replaySep = "-replay-"

// lineage returns the command that d is the dead letter of, or replays,
// and how many replays deep d is: ("8d1c", 0) for the dead letter of
// command 8d1c, ("8d1c", 2) for that of 8d1c-replay-2, a replay of 8d1c.
// It is read from d's own headers (Command-Id, and the Replay-Of that a
// replayed command carries into its dead letter), so it is the same
// however often it is asked.
func (d deadLetter) lineage() (root string, gen int) {
	id, of := d.commandID(), d.header.Get(commands.HeaderReplayOf)
	if rest, ok := strings.CutPrefix(id, of+replaySep); of != "" && ok {
		if n, err := strconv.Atoi(rest); err == nil && n > 0 && strconv.Itoa(n) == rest {
			return of, n
		}
	}
	return id, 0
}

// replayID returns the command id and the Replay-Of header of d's replay:
// <command id>-replay-<n> and <command id>, where the command id is that
// of the command first published and n is one more than the replays
// before this one.
func (d deadLetter) replayID() (id, of string) {
	root, gen := d.lineage()
	return root + replaySep + strconv.Itoa(gen+1), root
}

// readDLQ calls fn with each dead letter under filter, oldest first, until
// fn returns false; total is how many the stream held under filter when
// reading began. Dead letters stored after that are not read.
func readDLQ(ctx context.Context, js jetstream.JetStream, filter string, timeout time.Duration, fn func(deadLetter) bool) (total int, err error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := js.OrderedConsumer(cctx, streams.DLQ, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("no stream %s: has a bridge run with this NATS? (%w)", streams.DLQ, err)
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", streams.DLQ, err)
	}
	defer func() { // rather than leave it to the server's inactivity threshold
		if ci := c.CachedInfo(); ci != nil {
			_ = js.DeleteConsumer(context.WithoutCancel(cctx), streams.DLQ, ci.Name)
		}
	}()
	info, err := c.Info(cctx)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", streams.DLQ, err)
	}
	total = int(info.NumPending)
	seen, more := 0, true
	for more && seen < total {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		batch, err := c.Fetch(min(total-seen, 500), jetstream.FetchMaxWait(min(timeout, 5*time.Second)))
		if err != nil {
			return total, fmt.Errorf("read %s: %w", streams.DLQ, err)
		}
		got := 0
		for m := range batch.Messages() { // read the whole batch, also after fn said stop
			got++
			meta, err := m.Metadata()
			if err != nil || !more {
				continue
			}
			seen++
			more = fn(deadLetter{seq: meta.Sequence.Stream, stored: meta.Timestamp, subject: m.Subject(), header: m.Headers(), data: m.Data()}) && meta.NumPending > 0
		}
		if err := batch.Error(); err != nil {
			return total, fmt.Errorf("read %s: %w", streams.DLQ, err)
		}
		if got == 0 { // removed since reading began
			break
		}
	}
	return total, nil
}

// dlqOps are the ops of dead letters' subjects; unknown is that of a
// command whose subject did not parse.
var dlqOps = []string{streams.OpCreate, streams.OpUpdate, streams.OpDelete, "unknown"}

// runDLQList is `bridge dlq list`: the dead letters, oldest first, a table
// row or (--json) a JSON object each, or "no dead letters in CRM_DLQ".
func runDLQList(ctx context.Context, e env, args []string) error {
	fs := flagSet(e, "bridge dlq list", dlqListUsage)
	var cf clientFlags
	cf.register(fs, e.getenv)
	asJSON := fs.Bool("json", false, "one JSON object per line, with the command's headers and body")
	op := fs.String("op", "", "only the dead letters of this op: create, update, delete or unknown")
	limit := fs.Int("limit", 0, "show at most N dead letters, the oldest first (0: all)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return parseErr(err)
	}
	switch {
	case len(pos) > 0:
		return usagef("dlq list: unexpected argument %q", pos[0])
	case *op != "" && !slices.Contains(dlqOps, *op):
		return usagef("dlq list: --op %q: want create, update, delete or unknown", *op)
	case *limit < 0:
		return usagef("dlq list: --limit %d: want 0 (all) or more", *limit)
	}
	nc, js, err := cf.connect("dlq list")
	if err != nil {
		return err
	}
	defer nc.Close()
	filter := cf.subjects().DLQ(cmp.Or(*op, "*"))
	p := dlqPrinter{w: e.stdout, subjects: cf.subjects(), json: *asJSON}
	if !p.json {
		p.tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, "SEQ\tTIME\tOP\tCOMMAND\tCUSTOMER\tSTATUS\tREASON")
	}
	shown := 0
	total, err := readDLQ(ctx, js, filter, cf.timeout, func(d deadLetter) bool {
		if p.err = p.print(d); p.err != nil {
			return false
		}
		shown++
		return *limit == 0 || shown < *limit
	})
	err = errors.Join(err, p.err)
	if p.tw != nil && shown > 0 {
		err = errors.Join(err, p.tw.Flush())
	}
	if err != nil {
		return fmt.Errorf("dlq list: %w", err)
	}
	note := e.stdout
	if p.json {
		note = e.stderr // stdout holds JSON alone
	}
	what := "dead letters"
	if *op != "" {
		what = *op + " " + what
	}
	switch {
	case total == 0:
		fmt.Fprintf(note, "no %s in %s\n", what, streams.DLQ)
	case shown < total:
		fmt.Fprintf(note, "(%d of %d %s shown)\n", shown, total, what)
	}
	return nil
}

// dlqPrinter prints dead letters as a table or as JSON lines.
type dlqPrinter struct {
	w        io.Writer
	tw       *tabwriter.Writer
	subjects streams.Subjects
	json     bool
	err      error
}

// dlqRecord is a dead letter as `bridge dlq list --json` prints it: Time
// is when it was stored, Headers are all of its headers, and the body is
// Body when it is UTF-8 and BodyBase64 otherwise.
type dlqRecord struct {
	Seq             uint64              `json:"seq"`
	Time            time.Time           `json:"time"`
	Op              string              `json:"op"`
	CommandID       string              `json:"commandId"`
	CustomerID      string              `json:"customerId,omitempty"`
	Status          string              `json:"status"`
	Reason          string              `json:"reason"`
	OriginalSubject string              `json:"originalSubject"`
	ReplayOf        string              `json:"replayOf,omitempty"`
	Headers         map[string][]string `json:"headers"`
	Body            *string             `json:"body,omitempty"`
	BodyBase64      string              `json:"bodyBase64,omitempty"`
}

func (p *dlqPrinter) print(d deadLetter) error {
	orig := d.header.Get(commands.HeaderOriginalSubject)
	_, customer, _ := p.subjects.ParseCommand(orig)
	if !p.json {
		_, err := fmt.Fprintf(p.tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.seq, d.stored.UTC().Format(time.RFC3339), d.op(),
			dlqCell(d.commandID()), dlqCell(customer), dlqCell(d.header.Get(commands.HeaderDlqStatus)), dlqOneLine(d.header.Get(commands.HeaderDlqReason)))
		return err
	}
	r := dlqRecord{
		Seq: d.seq, Time: d.stored.UTC(), Op: d.op(), CommandID: d.commandID(), CustomerID: customer,
		Status: d.header.Get(commands.HeaderDlqStatus), Reason: d.header.Get(commands.HeaderDlqReason),
		OriginalSubject: orig, ReplayOf: d.header.Get(commands.HeaderReplayOf), Headers: map[string][]string(d.header),
	}
	if r.Headers == nil {
		r.Headers = map[string][]string{}
	}
	if utf8.Valid(d.data) {
		body := string(d.data)
		r.Body = &body
	} else {
		r.BodyBase64 = base64.StdEncoding.EncodeToString(d.data)
	}
	line, err := json.Marshal(r)
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

// runDLQReplay is `bridge dlq replay`: it republishes each chosen dead
// letter to its Original-Subject as a new command (see
// deadLetter.replayID) and removes the dead letter once JetStream has
// stored the republish, never before. It prints a line per dead letter
// and a summary, logs progress on stderr, and fails naming each dead
// letter not replayed and each selector that names none. Before it
// replays anything, it warns on stderr of each update and delete that
// goes behind newer commands for its customer (see warnNewer), and
// replays them all the same.
func runDLQReplay(ctx context.Context, e env, args []string) error {
	fs := flagSet(e, "bridge dlq replay", dlqReplayUsage)
	var cf clientFlags
	cf.register(fs, e.getenv)
	all := fs.Bool("all", false, "replay every dead letter")
	dryRun := fs.Bool("dry-run", false, "print what would be replayed, and change nothing")
	sel, err := parseInterspersed(fs, args)
	if err != nil {
		return parseErr(err)
	}
	if err := checkSelection("replay", sel, *all); err != nil {
		return err
	}
	nc, js, err := cf.connect("dlq replay")
	if err != nil {
		return err
	}
	defer nc.Close()
	letters, err := allDeadLetters(ctx, js, cf)
	if err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	chosen, missing := chooseDLQ(letters, sel, *all)
	plan := planReplays(letters, chosen, cf.subjects())
	warnNewer(ctx, e.stderr, js, plan, letters, cf.subjects(), cf.timeout)
	r := &replayer{js: js, timeout: cf.timeout, out: e.stdout, log: e.stderr, total: len(plan), dryRun: *dryRun}
	switch {
	case len(letters) == 0:
		fmt.Fprintf(e.stdout, "no dead letters in %s\n", streams.DLQ)
	case *dryRun:
		r.dryRunAll(plan)
	default:
		sctx, cancel := context.WithTimeout(ctx, cf.timeout)
		r.dlq, err = js.Stream(sctx, streams.DLQ)
		cancel()
		if err != nil {
			return fmt.Errorf("dlq replay: %w", err)
		}
		r.run(ctx, plan)
	}
	return r.result(missing)
}

// chooseDLQ returns the dead letters that sel names, in stream order, and
// the selectors that name none; with all, every letter. A selector of
// digits names the dead letter of that stream sequence if there is one,
// and otherwise, as any other selector, the dead letters of that command
// id (a command published without Nats-Msg-Id has its stream sequence in
// CRM_COMMANDS as id).
func chooseDLQ(letters []deadLetter, sel []string, all bool) (chosen []deadLetter, missing []string) {
	if all {
		return letters, nil
	}
	bySeq := map[uint64]int{}
	byID := map[string][]int{}
	for i, d := range letters {
		bySeq[d.seq] = i
		byID[d.commandID()] = append(byID[d.commandID()], i)
	}
	pick := make([]bool, len(letters))
	for _, s := range sel {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			if i, ok := bySeq[n]; ok {
				pick[i] = true
				continue
			}
		}
		if s == "" || len(byID[s]) == 0 {
			missing = append(missing, s)
			continue
		}
		for _, i := range byID[s] {
			pick[i] = true
		}
	}
	for i, d := range letters {
		if pick[i] {
			chosen = append(chosen, d)
		}
	}
	return chosen, missing
}

// replayPlan is what becomes of one dead letter.
type replayPlan struct {
	idx     int // in the plan: the order its line is printed in
	dl      deadLetter
	subject string // where the command is republished: Original-Subject
	id, of  string // the replay's command id and Replay-Of
	// done, when set, says how the dead letter was replayed already: it is
	// removed, not republished.
	done string
	err  error // why the dead letter cannot be replayed
}

// planReplays decides what becomes of each chosen dead letter; letters is
// the whole queue. A dead letter is replayed already when the queue holds
// the dead letter of a deeper replay of the same command: replaying a
// command again leaves the first dead letter in the queue only when its
// removal failed, and its replay then took place and failed again.
func planReplays(letters, chosen []deadLetter, subj streams.Subjects) []replayPlan {
	deepest := map[string]deadLetter{}
	for _, d := range letters {
		root, gen := d.lineage()
		if l, ok := deepest[root]; !ok || gen > replayDepth(l) {
			deepest[root] = d
		}
	}
	ids := map[string]uint64{}
	plan := make([]replayPlan, 0, len(chosen))
	for _, d := range chosen {
		p := replayPlan{idx: len(plan), dl: d, subject: d.header.Get(commands.HeaderOriginalSubject)}
		p.id, p.of = d.replayID()
		root, gen := d.lineage()
		_, _, perr := subj.ParseCommand(p.subject)
		switch l := deepest[root]; {
		case d.commandID() == "":
			p.err = errors.New("it has no Command-Id header")
		case perr != nil:
			p.err = fmt.Errorf("its Original-Subject %q is not a command subject under the prefix %q", p.subject, subj.Prefix)
			if se := (*streams.SubjectError)(nil); errors.As(perr, &se) && se.Token != "" {
				p.err = fmt.Errorf("its Original-Subject cannot be replayed: %w", perr) // a bad customer id token: rejected again
			}
		case replayDepth(l) > gen:
			p.done = fmt.Sprintf("replayed already: %s is dead letter %d", l.commandID(), l.seq)
		case ids[p.id] != 0:
			p.err = fmt.Errorf("its replay would have the id %s, as that of dead letter %d does: replay it once that one's replay has a result", p.id, ids[p.id])
		default:
			ids[p.id] = d.seq
		}
		plan = append(plan, p)
	}
	return plan
}

func replayDepth(d deadLetter) int {
	_, gen := d.lineage()
	return gen
}

// msg returns the command to republish: the dead letter's body and the
// command's own headers, with the new id and Replay-Of.
func (p replayPlan) msg() *nats.Msg {
	m := nats.NewMsg(p.subject)
	for k, v := range p.dl.header {
		if keepOnReplay(k) {
			m.Header[k] = slices.Clone(v)
		}
	}
	m.Header.Set(nats.MsgIdHdr, p.id)
	m.Header.Set(commands.HeaderReplayOf, p.of)
	m.Data = p.dl.data
	return m
}

// keepOnReplay reports whether a dead letter's header goes with its
// replay. The command's own headers (Reply-To, trace context, ...) do; the
// dead letter's (Command-Id, Dlq-*, Original-Subject), Replay-Of (set
// anew) and the Nats-* headers, which ruled the original publish (its id,
// its expectations), do not.
func keepOnReplay(k string) bool {
	for _, h := range []string{commands.HeaderCommandID, commands.HeaderDlqReason, commands.HeaderDlqStatus, commands.HeaderOriginalSubject, commands.HeaderReplayOf} {
		if strings.EqualFold(k, h) {
			return false
		}
	}
	return !strings.HasPrefix(strings.ToLower(k), "nats-")
}

const (
	// replayWindow bounds the republished commands awaiting their ack.
	replayWindow = 256
	// replayWorkers await acks and remove dead letters concurrently.
	replayWorkers = 8
	// A replay logs its progress every replayProgressEvery dead letters or
	// replayProgressInterval, whichever comes first.
	replayProgressEvery    = 1000
	replayProgressInterval = 5 * time.Second
)

// replayer republishes dead letters, removes them once their republish is
// stored, and reports on each.
type replayer struct {
	js      jetstream.JetStream
	dlq     jetstream.Stream
	timeout time.Duration
	out     io.Writer // a line per dead letter, and the summary
	log     io.Writer // progress
	total   int
	dryRun  bool

	mu            sync.Mutex
	counts        [3]int         // by replayOutcome
	failures      map[int]string // by plan index
	start, logged time.Time
	lines         []string // by plan index, until printed
	printed       int      // lines printed: the plan's first ones
}

// replayOutcome is what became of one dead letter.
type replayOutcome int

const (
	outcomeReplayed replayOutcome = iota // republished, and removed
	outcomeRemoved                       // replayed already: removed only
	outcomeKept                          // kept
)

// replayPending is a dead letter whose republish (fut; nil when it is
// replayed already) awaits its ack.
type replayPending struct {
	replayPlan
	fut jetstream.PubAckFuture
}

// run replays plan in order: one publisher keeps the order of the
// republished commands, workers await their acks and remove the dead
// letters.
func (r *replayer) run(ctx context.Context, plan []replayPlan) {
	r.start, r.logged = time.Now(), time.Now()
	work := make(chan replayPending, replayWindow)
	var wg sync.WaitGroup
	for range replayWorkers {
		wg.Go(func() {
			for p := range work {
				r.finish(ctx, p)
			}
		})
	}
	for _, p := range plan {
		switch {
		case p.err != nil:
			r.report(p, outcomeKept, p.err.Error())
		case ctx.Err() != nil:
			r.report(p, outcomeKept, fmt.Sprintf("not republished: %v", context.Cause(ctx)))
		case p.done != "":
			work <- replayPending{replayPlan: p}
		default:
			// No Nats-Expected-Stream: the stored command would keep it, and
			// its own dead letter could then not be stored in CRM_DLQ.
			fut, err := r.js.PublishMsgAsync(p.msg())
			if err != nil {
				r.report(p, outcomeKept, fmt.Sprintf("republish as %s: %v; dead letter kept", p.id, err))
				continue
			}
			work <- replayPending{replayPlan: p, fut: fut}
		}
	}
	close(work)
	wg.Wait()
}

// finish waits until p's republish is stored, then removes its dead
// letter: never before, and even when ctx ends meanwhile.
func (r *replayer) finish(ctx context.Context, p replayPending) {
	outcome, how := outcomeRemoved, p.done
	if p.fut != nil {
		ack, err := r.stored(ctx, p.fut)
		if err == nil && ack.Stream != streams.Commands {
			err = fmt.Errorf("stored in stream %s instead of %s", ack.Stream, streams.Commands)
		}
		if err != nil {
			r.report(p.replayPlan, outcomeKept, fmt.Sprintf("republished as %s, not confirmed stored: %v; dead letter kept", p.id, err))
			return
		}
		outcome, how = outcomeReplayed, fmt.Sprintf("replayed as %s to %s", p.id, p.subject)
		if ack.Duplicate {
			outcome, how = outcomeRemoved, fmt.Sprintf("%s was stored already, by an earlier replay", p.id)
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	if err := r.remove(dctx, p.dl.seq); err != nil {
		r.report(p.replayPlan, outcomeKept, fmt.Sprintf("%s, but the dead letter was not removed: %v (a replay again within %v is dropped as a duplicate)", how, err, streams.CommandsDuplicates))
		return
	}
	if outcome == outcomeRemoved {
		how += "; dead letter removed"
	}
	r.report(p.replayPlan, outcome, how)
}

// stored waits for fut's ack.
func (r *replayer) stored(ctx context.Context, fut jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	t := time.NewTimer(r.timeout)
	defer t.Stop()
	select {
	case ack := <-fut.Ok():
		return ack, nil
	case err := <-fut.Err():
		return nil, err
	case <-t.C:
		return nil, fmt.Errorf("no ack within %v", r.timeout)
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// remove deletes the dead letter at seq; one that is gone already counts
// as removed.
func (r *replayer) remove(ctx context.Context, seq uint64) error {
	err := r.dlq.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if _, gerr := r.dlq.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return nil
	}
	return err
}

// dryRunAll reports what run would do with plan.
func (r *replayer) dryRunAll(plan []replayPlan) {
	for _, p := range plan {
		switch {
		case p.err != nil:
			r.report(p, outcomeKept, p.err.Error())
		case p.done != "":
			r.report(p, outcomeRemoved, "would be removed: "+p.done)
		default:
			r.report(p, outcomeReplayed, fmt.Sprintf("would be replayed as %s to %s", p.id, p.subject))
		}
	}
}

// report prints what became of one dead letter, in the order of the
// plan, and the progress every replayProgressEvery dead letters or
// replayProgressInterval.
func (r *replayer) report(p replayPlan, outcome replayOutcome, how string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	head := fmt.Sprintf("seq %d command %s", p.dl.seq, dlqCell(p.dl.commandID()))
	r.counts[outcome]++
	if outcome == outcomeKept {
		if r.failures == nil {
			r.failures = map[int]string{}
		}
		r.failures[p.idx] = head + ": " + how
		how = "NOT REPLAYED: " + how
	}
	if r.lines == nil {
		r.lines = make([]string, r.total)
	}
	r.lines[p.idx] = head + ": " + how + "\n"
	for r.printed < len(r.lines) && r.lines[r.printed] != "" {
		io.WriteString(r.out, r.lines[r.printed])
		r.lines[r.printed] = ""
		r.printed++
	}
	done, now := r.counts[outcomeReplayed]+r.counts[outcomeRemoved]+r.counts[outcomeKept], time.Now()
	if !r.dryRun && (done%replayProgressEvery == 0 || now.Sub(r.logged) >= replayProgressInterval) {
		r.logged = now
		fmt.Fprintf(r.log, "dlq replay: %d of %d dead letters done: %s, %s\n", done, r.total, r.tally(), dlqRate(done, now.Sub(r.start)))
	}
}

// tally returns the counts of the outcomes so far.
func (r *replayer) tally() string {
	if r.dryRun {
		return fmt.Sprintf("%d would be replayed, %d would be removed as replayed already, %d cannot be replayed",
			r.counts[outcomeReplayed], r.counts[outcomeRemoved], r.counts[outcomeKept])
	}
	return fmt.Sprintf("%d replayed, %d removed as replayed already, %d failed", r.counts[outcomeReplayed], r.counts[outcomeRemoved], r.counts[outcomeKept])
}

// dlqRate returns "<n/d>/s over <d>".
func dlqRate(n int, d time.Duration) string {
	return fmt.Sprintf("%.0f/s over %v", float64(n)/max(d.Seconds(), 1e-3), d.Round(time.Millisecond))
}

// result prints the summary and returns an error naming every dead letter
// not replayed and every selector that named none.
func (r *replayer) result(missing []string) error {
	var problems []string
	for _, i := range slices.Sorted(maps.Keys(r.failures)) {
		problems = append(problems, r.failures[i])
	}
	for _, s := range missing {
		problems = append(problems, fmt.Sprintf("%q: no dead letter in %s has this stream sequence or command id", s, streams.DLQ))
	}
	if r.total > 0 || len(missing) > 0 {
		line := fmt.Sprintf("dlq replay: %d dead letters: %s", r.total, r.tally())
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

// allDeadLetters reads every dead letter in CRM_DLQ.
func allDeadLetters(ctx context.Context, js jetstream.JetStream, cf clientFlags) ([]deadLetter, error) {
	var letters []deadLetter
	_, err := readDLQ(ctx, js, cf.subjects().DLQ("*"), cf.timeout, func(d deadLetter) bool {
		letters = append(letters, d)
		return true
	})
	return letters, err
}
