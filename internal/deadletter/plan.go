package deadletter

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Choose returns the dead letters of letters that sel names, in stream
// order, and the selectors that name none; with all, every letter. A
// selector of digits names the dead letter of that stream sequence if
// there is one, and otherwise, as any other selector, the dead letters of
// that command id (a command published without Nats-Msg-Id has its stream
// sequence in CRM_COMMANDS as id).
func Choose(letters []Letter, sel []string, all bool) (chosen []Letter, missing []string) {
	if all {
		return letters, nil
	}
	pick, missing := picks(letters, sel)
	for i, l := range letters {
		if pick[i] {
			chosen = append(chosen, l)
		}
	}
	return chosen, missing
}

// picks returns which of letters sel names, by index, and the selectors
// that name none (see Choose).
func picks(letters []Letter, sel []string) (pick []bool, missing []string) {
	bySeq := map[uint64]int{}
	byID := map[string][]int{}
	for i, l := range letters {
		bySeq[l.Seq] = i
		byID[l.CommandID()] = append(byID[l.CommandID()], i)
	}
	pick = make([]bool, len(letters))
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
	return pick, missing
}

// Plan is what a replay makes of one dead letter.
type Plan struct {
	Index   int // in the plan, from 0: the order it is reported in
	Letter  Letter
	Subject string // where the command is republished: its Original-Subject
	ID, Of  string // the replay's command id and Replay-Of (Letter.ReplayID)
	// Done, when set, says how the dead letter was replayed already: it is
	// removed, not republished.
	Done string
	Err  error // why the dead letter cannot be replayed; nil when it can
}

// PlanReplays decides what becomes of each chosen dead letter; letters is
// the whole queue. A dead letter is replayed already when the queue holds
// the dead letter of a deeper replay of the same command: replaying a
// command again leaves the first dead letter in the queue only when its
// removal failed, and its replay then took place and failed again.
func PlanReplays(letters, chosen []Letter, subj streams.Subjects) []Plan {
	deepest := deepestReplays(letters)
	ids := map[string]uint64{}
	plan := make([]Plan, 0, len(chosen))
	for _, l := range chosen {
		p := Plan{Index: len(plan), Letter: l, Subject: l.OriginalSubject()}
		p.ID, p.Of = l.ReplayID()
		root, gen := l.Lineage()
		_, _, perr := subj.ParseCommand(p.Subject)
		switch d := deepest[root]; {
		case l.CommandID() == "":
			p.Err = errors.New("it has no Command-Id header")
		case perr != nil:
			p.Err = fmt.Errorf("its Original-Subject %q is not a command subject under the prefix %q", p.Subject, subj.Prefix)
			if se := (*streams.SubjectError)(nil); errors.As(perr, &se) && se.Token != "" {
				p.Err = fmt.Errorf("its Original-Subject cannot be replayed: %w", perr) // a bad customer id token: rejected again
			}
		case d.depth() > gen:
			p.Done = fmt.Sprintf("replayed already: %s is dead letter %d", d.CommandID(), d.Seq)
		case ids[p.ID] != 0:
			p.Err = fmt.Errorf("its replay would have the id %s, as that of dead letter %d does: replay it once that one's replay has a result", p.ID, ids[p.ID])
		default:
			ids[p.ID] = l.Seq
		}
		plan = append(plan, p)
	}
	return plan
}

// deepestReplays returns the dead letter of the deepest replay of each
// command that letters hold a dead letter of, by the command's id.
func deepestReplays(letters []Letter) map[string]Letter {
	deepest := map[string]Letter{}
	for _, l := range letters {
		root, gen := l.Lineage()
		if d, ok := deepest[root]; !ok || gen > d.depth() {
			deepest[root] = l
		}
	}
	return deepest
}

// Msg returns the command to republish: the dead letter's body and the
// command's own headers (see keepOnReplay), with the new id as
// Nats-Msg-Id and Replay-Of. It has no Nats-Expected-Stream: the stored
// command would keep it, and its own dead letter could then not be stored
// in CRM_DLQ.
func (p Plan) Msg() *nats.Msg {
	m := nats.NewMsg(p.Subject)
	for k, v := range p.Letter.Header {
		if keepOnReplay(k) {
			m.Header[k] = slices.Clone(v)
		}
	}
	m.Header.Set(nats.MsgIdHdr, p.ID)
	m.Header.Set(HeaderReplayOf, p.Of)
	m.Data = p.Letter.Data
	return m
}

// keepOnReplay reports whether a dead letter's header goes with its
// replay. The command's own headers (Reply-To, trace context, ...) do; the
// dead letter's (Command-Id, Dlq-*, Original-Subject), Replay-Of (set
// anew) and the Nats-* headers (isJetStreamHeader) do not.
func keepOnReplay(k string) bool {
	for _, h := range []string{HeaderCommandID, HeaderReason, HeaderStatus, HeaderOriginalSubject, HeaderReplayOf} {
		if strings.EqualFold(k, h) {
			return false
		}
	}
	return !isJetStreamHeader(k)
}

// CheckSelection refuses a selection of dead letters to verb (replay,
// discard) that names both all and dead letters (sel), or neither.
func CheckSelection(verb string, sel []string, all bool) error {
	switch {
	case all && len(sel) > 0:
		return fmt.Errorf("--all and named dead letters (%s) together; want one or the other", strings.Join(sel, " "))
	case !all && len(sel) == 0:
		return fmt.Errorf("name the dead letters to %s (SEQ or COMMAND-ID, as bridge dlq list shows them), or give --all", verb)
	}
	return nil
}

// CheckDiscard refuses a selection that CheckSelection refuses, and a
// discard without a reason: the audit log gives it with each dead letter.
func CheckDiscard(sel []string, all bool, reason string) error {
	if err := CheckSelection("discard", sel, all); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("--reason is required: say why the dead letters are discarded (it is logged with each)")
	}
	return nil
}

// NotFoundError is the error of selectors that name no dead letter (the
// missing of Choose).
type NotFoundError struct{ Selectors []string }

func (e NotFoundError) Error() string {
	q := make([]string, len(e.Selectors))
	for i, s := range e.Selectors {
		q[i] = strconv.Quote(s)
	}
	return fmt.Sprintf("no dead letter in %s has the stream sequence or command id %s", streams.DLQ, strings.Join(q, ", "))
}
