package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/streams"
)

// newerWorkers read customers' commands concurrently.
const newerWorkers = 8

// Newer returns, by index of plan, a warning for each update or delete
// that would be republished while CRM_COMMANDS holds newer commands for
// its customer, and "" for the others: the replay is stored behind them,
// so it takes effect after them and may undo what they did. A command is
// newer when it was stored after the dead-lettered one and is neither of
// its lineage (the command it replays, its replays) nor dead-lettered
// itself (one of letters: it took no effect). A customer whose commands
// cannot be read gets a warning that says so. timeout bounds each read.
func Newer(ctx context.Context, js jetstream.JetStream, plan []Plan, letters []Letter, subj streams.Subjects, timeout time.Duration) []string {
	warnings := make([]string, len(plan))
	byToken := republished(plan, subj)
	if len(byToken) == 0 {
		return warnings
	}
	nc := newerCheck{prefix: subj.Prefix, timeout: timeout, dead: map[string]bool{}}
	for _, l := range letters {
		nc.dead[l.CommandID()] = true
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	nc.commands, nc.err = js.Stream(sctx, streams.Commands)
	cancel()
	nc.check(ctx, plan, byToken, warnings)
	return warnings
}

// republished returns the indices of the updates and deletes of plan that
// would be republished, by customer token.
func republished(plan []Plan, subj streams.Subjects) map[string][]int {
	byToken := map[string][]int{}
	for i, p := range plan {
		if op, _, err := subj.ParseCommand(p.Subject); p.Err == nil && p.Done == "" && err == nil && op != streams.OpCreate {
			tok := p.Subject[strings.LastIndexByte(p.Subject, '.')+1:]
			byToken[tok] = append(byToken[tok], i)
		}
	}
	return byToken
}

// check sets the warnings of the plan's dead letters of each customer
// token of byToken, newerWorkers customers at a time.
func (nc newerCheck) check(ctx context.Context, plan []Plan, byToken map[string][]int, warnings []string) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(newerWorkers, len(byToken)) {
		wg.Go(func() {
			for tok := range work {
				nc.customer(ctx, tok, plan, byToken[tok], warnings)
			}
		})
	}
	for tok := range byToken {
		work <- tok
	}
	close(work)
	wg.Wait()
}

// newerCheck looks for commands newer than dead-lettered ones.
type newerCheck struct {
	commands jetstream.Stream // CRM_COMMANDS, unless err
	err      error
	prefix   string
	timeout  time.Duration
	dead     map[string]bool // the command ids of every dead letter
}

// customer sets warnings[i] for each i of idx, the plan's dead letters of
// the customer of subject token tok. The customer's last command tells
// whether one is newer, unless it is a dead-lettered command or a replay
// of the same command; then every command of the customer is read.
func (nc newerCheck) customer(ctx context.Context, tok string, plan []Plan, idx []int, warnings []string) {
	last, err := nc.last(ctx, tok)
	var all []storedCommand // read once, when needed
	read := false
	for _, i := range idx {
		p := plan[i]
		_, customer, _ := streams.Subjects{Prefix: nc.prefix}.ParseCommand(p.Subject)
		if err != nil || len(last) == 0 || last[0].id == p.Letter.CommandID() || nc.counts(p, last[0]) {
			warnings[i] = newerWarning(p, customer, last, nc.dead, err)
			continue
		}
		if !read {
			all, err = nc.all(ctx, tok)
			read = true
		}
		warnings[i] = newerWarning(p, customer, all, nc.dead, err)
	}
}

// last returns the last update or delete that CRM_COMMANDS holds for the
// customer of subject token tok: none, or one.
func (nc newerCheck) last(ctx context.Context, tok string) ([]storedCommand, error) {
	if nc.err != nil {
		return nil, nc.err
	}
	ctx, cancel := context.WithTimeout(ctx, nc.timeout)
	defer cancel()
	m, err := nc.commands.GetLastMsgForSubject(ctx, nc.filter(tok))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []storedCommand{newStoredCommand(m.Sequence, m.Time, m.Header)}, nil
}

// counts reports whether c, a command stored after p's dead-lettered
// command, is newer than it: neither of its lineage (the command it
// replays, its replays) nor dead-lettered itself (it took no effect).
func (nc newerCheck) counts(p Plan, c storedCommand) bool {
	return !nc.dead[c.id] && c.id != p.Of && c.replayOf != p.Of
}

// storedCommand is an update or delete that CRM_COMMANDS holds.
type storedCommand struct {
	seq      uint64
	stored   time.Time
	id       string // its Nats-Msg-Id, or else its stream sequence
	replayOf string
}

func newStoredCommand(seq uint64, stored time.Time, h nats.Header) storedCommand {
	c := storedCommand{seq: seq, stored: stored, id: h.Get(nats.MsgIdHdr), replayOf: h.Get(HeaderReplayOf)}
	if c.id == "" {
		c.id = strconv.FormatUint(seq, 10)
	}
	return c
}

// all returns the updates and deletes that CRM_COMMANDS holds for the
// customer of subject token tok, oldest first, a request each: few, as a
// rule, and each request is far cheaper than a consumer on a large stream.
func (nc newerCheck) all(ctx context.Context, tok string) ([]storedCommand, error) {
	var cmds []storedCommand
	for seq := uint64(1); ; {
		m, err := nc.get(ctx, seq, tok)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return cmds, nil
		}
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, newStoredCommand(m.Sequence, m.Time, m.Header))
		seq = m.Sequence + 1
	}
}

// get returns the first update or delete for the customer of subject
// token tok stored at seq or later.
func (nc newerCheck) get(ctx context.Context, seq uint64, tok string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, nc.timeout)
	defer cancel()
	return nc.commands.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(nc.filter(tok)))
}

// filter is the subject filter of the customer's updates and deletes, as
// CRM_COMMANDS stores them (see streams.Layout).
func (nc newerCheck) filter(tok string) string { return nc.prefix + ".customer.*." + tok + ".>" }

// newerWarning returns the warning for p, or "" when none of cmds (the
// commands of its customer, oldest first) is newer than p's dead-lettered
// command: stored after it (all of cmds when CRM_COMMANDS no longer holds
// it: it is older than the stream's max age) and counted (see
// newerCheck.counts). err is why cmds could not be read.
func newerWarning(p Plan, customer string, cmds []storedCommand, dead map[string]bool, err error) string {
	if err != nil {
		return fmt.Sprintf("cannot tell whether customer %s has newer commands: %v", customer, err)
	}
	from := 0
	for i, c := range cmds {
		if c.id == p.Letter.CommandID() {
			from = i + 1
		}
	}
	nc := newerCheck{dead: dead}
	for i := len(cmds) - 1; i >= from; i-- {
		if c := cmds[i]; nc.counts(p, c) {
			return fmt.Sprintf("customer %s has newer commands in %s, the last %s stored %s: the replay goes behind them, and may undo what they did",
				customer, streams.Commands, c.id, c.stored.UTC().Format(time.RFC3339))
		}
	}
	return ""
}
