package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/streams"
)

// newerWorkers read customers' commands concurrently.
const newerWorkers = 8

// warnNewer writes to w, before anything is replayed, a warning for each
// update or delete of plan that would be republished while CRM_COMMANDS
// holds newer commands for its customer (see newerCommands): the replay
// is stored behind them, so it takes effect after them and may undo what
// they did. It returns how many it warned of. It never stops the replay.
func warnNewer(ctx context.Context, w io.Writer, js jetstream.JetStream, plan []replayPlan, letters []deadLetter, subj streams.Subjects, timeout time.Duration) int {
	byToken := map[string][]int{} // plan indices, by customer token
	for i, p := range plan {
		if op, _, err := subj.ParseCommand(p.subject); p.err == nil && p.done == "" && err == nil && op != streams.OpCreate {
			tok := p.subject[strings.LastIndexByte(p.subject, '.')+1:]
			byToken[tok] = append(byToken[tok], i)
		}
	}
	dead := map[string]bool{}
	for _, d := range letters {
		dead[d.commandID()] = true
	}
	warnings := make([]string, len(plan))
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(newerWorkers, len(byToken)) {
		wg.Go(func() {
			for tok := range work {
				cmds, err := customerCommands(ctx, js, subj.Prefix, tok, timeout)
				for _, i := range byToken[tok] {
					_, customer, _ := subj.ParseCommand(plan[i].subject)
					warnings[i] = newerWarning(plan[i], customer, cmds, dead, err)
				}
			}
		})
	}
	for tok := range byToken {
		work <- tok
	}
	close(work)
	wg.Wait()
	n := 0
	for i, s := range warnings {
		if s != "" {
			n++
			fmt.Fprintf(w, "dlq replay: WARNING: seq %d command %s: %s\n", plan[i].dl.seq, dlqCell(plan[i].dl.commandID()), s)
		}
	}
	if n > 0 {
		fmt.Fprintf(w, "dlq replay: WARNING: %d of %d dead letters go behind newer commands for their customer (above)\n", n, len(plan))
	}
	return n
}

// storedCommand is an update or delete that CRM_COMMANDS holds.
type storedCommand struct {
	seq      uint64
	stored   time.Time
	id       string // its Nats-Msg-Id, or else its stream sequence
	replayOf string
}

// customerCommands returns the updates and deletes that CRM_COMMANDS holds
// for the customer of subject token tok, oldest first (headers only).
func customerCommands(ctx context.Context, js jetstream.JetStream, prefix, tok string, timeout time.Duration) ([]storedCommand, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ".customer.update." + tok + ".>", prefix + ".customer.delete." + tok + ".>"},
		HeadersOnly:    true,
	}
	var cmds []storedCommand
	_, err := readStream(ctx, js, streams.Commands, cfg, timeout, func(m jetstream.Msg, meta *jetstream.MsgMetadata) bool {
		c := storedCommand{seq: meta.Sequence.Stream, stored: meta.Timestamp, id: m.Headers().Get(nats.MsgIdHdr), replayOf: m.Headers().Get(commands.HeaderReplayOf)}
		if c.id == "" {
			c.id = strconv.FormatUint(c.seq, 10)
		}
		cmds = append(cmds, c)
		return true
	})
	return cmds, err
}

// newerWarning returns the warning for p, or "" when none of cmds (the
// commands of its customer) is newer than p's dead-lettered command. A newer
// one is stored after it (after each of them, when the command was stored
// twice; all of cmds when it is no longer held: it is older than the
// stream's max age), is not of its lineage (the command it replays, its
// replays), and has no dead letter in dead (a dead-lettered command took
// no effect). err is why cmds could not be read.
func newerWarning(p replayPlan, customer string, cmds []storedCommand, dead map[string]bool, err error) string {
	if err != nil {
		return fmt.Sprintf("cannot tell whether customer %s has newer commands: %v", customer, err)
	}
	id, root := p.dl.commandID(), p.of
	from := 0
	for i, c := range cmds {
		if c.id == id {
			from = i + 1
		}
	}
	var newer []storedCommand
	for _, c := range cmds[from:] {
		if !dead[c.id] && c.id != root && c.replayOf != root {
			newer = append(newer, c)
		}
	}
	if len(newer) == 0 {
		return ""
	}
	last := newer[len(newer)-1]
	return fmt.Sprintf("customer %s has %d newer command(s) in %s, the last %s stored %s: the replay goes behind them, and may undo what they did",
		customer, len(newer), streams.Commands, last.id, last.stored.UTC().Format(time.RFC3339))
}
