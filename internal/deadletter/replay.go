package deadletter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Outcome is what became of one dead letter of a replay.
type Outcome int

const (
	// Replayed: republished, and removed.
	Replayed Outcome = iota
	// Removed: replayed already (Plan.Done, or the republish was a
	// duplicate of an earlier replay's), and removed only.
	Removed
	// Kept: not replayed, or replayed but not removed; Report.How says why.
	Kept
)

// Report is what became of one dead letter of a plan.
type Report struct {
	Plan
	Outcome Outcome
	How     string // for a person: "replayed as <id> to <subject>", or why it was kept
}

const (
	// replayWindow bounds the republished commands awaiting their ack.
	replayWindow = 256
	// replayWorkers await acks and remove dead letters concurrently.
	replayWorkers = 8
)

// Replayer republishes dead letters as new commands and removes each once
// JetStream has stored its republish, never before. JS, Stream and Report
// are required.
type Replayer struct {
	JS     jetstream.JetStream
	Stream jetstream.Stream // CRM_DLQ, to remove from (Queue.Stream)
	// Timeout bounds the wait for each republish's ack, and each removal.
	Timeout time.Duration
	// Report is called with what became of each dead letter, in the
	// plan's order, one call at a time.
	Report func(Report)
}

// Run replays plan in order: one publisher keeps the order of the
// republished commands, workers await their acks and remove the dead
// letters. A dead letter that ctx ends before is kept; one republished
// before is removed once its republish is stored, even when ctx ends
// meanwhile. It returns once every dead letter of plan is reported.
func (r *Replayer) Run(ctx context.Context, plan []Plan) {
	report := inOrder(r.Report)
	work := make(chan pending, replayWindow)
	var wg sync.WaitGroup
	for range replayWorkers {
		wg.Go(func() {
			for p := range work {
				report(r.finish(ctx, p))
			}
		})
	}
	for _, p := range plan {
		switch {
		case p.Err != nil:
			report(Report{Plan: p, Outcome: Kept, How: p.Err.Error()})
		case ctx.Err() != nil:
			report(Report{Plan: p, Outcome: Kept, How: fmt.Sprintf("not republished: %v", context.Cause(ctx))})
		case p.Done != "":
			work <- pending{Plan: p}
		default:
			fut, err := r.JS.PublishMsgAsync(p.Msg())
			if err != nil {
				report(Report{Plan: p, Outcome: Kept, How: fmt.Sprintf("republish as %s: %v; dead letter kept", p.ID, err)})
				continue
			}
			work <- pending{Plan: p, fut: fut}
		}
	}
	close(work)
	wg.Wait()
}

// pending is a dead letter whose republish (fut; nil when it is replayed
// already) awaits its ack.
type pending struct {
	Plan
	fut jetstream.PubAckFuture
}

// finish waits until p's republish is stored, then removes its dead
// letter: never before, and even when ctx ends meanwhile.
func (r *Replayer) finish(ctx context.Context, p pending) Report {
	outcome, how := Removed, p.Done
	if p.fut != nil {
		ack, err := r.stored(ctx, p.fut)
		if err == nil && ack.Stream != streams.Commands {
			err = fmt.Errorf("stored in stream %s instead of %s", ack.Stream, streams.Commands)
		}
		if err != nil {
			return Report{Plan: p.Plan, Outcome: Kept, How: fmt.Sprintf("republished as %s, not confirmed stored: %v; dead letter kept", p.ID, err)}
		}
		outcome, how = Replayed, fmt.Sprintf("replayed as %s to %s", p.ID, p.Subject)
		if ack.Duplicate {
			outcome, how = Removed, fmt.Sprintf("%s was stored already, by an earlier replay", p.ID)
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timeout)
	defer cancel()
	if err := Remove(dctx, r.Stream, p.Letter.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Report{Plan: p.Plan, Outcome: Kept, How: fmt.Sprintf("%s, but the dead letter was not removed: %v (a replay again within %v is dropped as a duplicate)", how, err, streams.CommandsDuplicates)}
	}
	if outcome == Removed {
		how += "; dead letter removed"
	}
	return Report{Plan: p.Plan, Outcome: outcome, How: how}
}

// stored waits for fut's ack.
func (r *Replayer) stored(ctx context.Context, fut jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	t := time.NewTimer(r.Timeout)
	defer t.Stop()
	select {
	case ack := <-fut.Ok():
		return ack, nil
	case err := <-fut.Err():
		return nil, err
	case <-t.C:
		return nil, fmt.Errorf("no ack within %v", r.Timeout)
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Replay replays plan from q's CRM_DLQ (a Replayer with q's Timeout), or
// with dryRun says what it would do and changes nothing (DryRun), calling
// report with what became of each dead letter, in order. It fails only
// when CRM_DLQ cannot be found, having replayed nothing.
func (q Queue) Replay(ctx context.Context, plan []Plan, dryRun bool, report func(Report)) error {
	if dryRun {
		DryRun(plan, report)
		return nil
	}
	st, err := q.Stream(ctx)
	if err != nil {
		return err
	}
	r := Replayer{JS: q.JS, Stream: st, Timeout: q.Timeout, Report: report}
	r.Run(ctx, plan)
	return nil
}

// DryRun calls report with what Replayer.Run would do with each dead
// letter of plan, in order, and changes nothing.
func DryRun(plan []Plan, report func(Report)) {
	for _, p := range plan {
		switch {
		case p.Err != nil:
			report(Report{Plan: p, Outcome: Kept, How: p.Err.Error()})
		case p.Done != "":
			report(Report{Plan: p, Outcome: Removed, How: "would be removed: " + p.Done})
		default:
			report(Report{Plan: p, Outcome: Replayed, How: fmt.Sprintf("would be replayed as %s to %s", p.ID, p.Subject)})
		}
	}
}

// inOrder returns a function, safe for concurrent use, that passes the
// reports it is given to fn one at a time in the order of their
// Plan.Index (from 0, without gaps), holding back those that come early.
func inOrder(fn func(Report)) func(Report) {
	var mu sync.Mutex
	early := map[int]Report{}
	next := 0
	return func(r Report) {
		mu.Lock()
		defer mu.Unlock()
		early[r.Index] = r
		for {
			r, ok := early[next]
			if !ok {
				return
			}
			delete(early, next)
			fn(r)
			next++
		}
	}
}
