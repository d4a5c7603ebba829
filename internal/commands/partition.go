package commands

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
)

// partition runs the commands of one partition that this process holds
// the lease of. It keeps each customer's commands in stream order: a
// customer's next command starts only once the previous one is finished
// (result stored, ack confirmed by the server); commands of other customers
// run meanwhile, up to the processor's slots.
//
// A command is confirmed when it is acknowledged only if its customer's
// next command is already waiting. Otherwise it is acknowledged without
// waiting (most are: the round trip is saved), and the confirmation is
// asked for when the customer's next command comes, before it starts: the
// ack is sent again as a request, which the server answers once it has the
// ack, whether from the first or the second (partition.finished).
type partition struct {
	p     *Processor
	name  string
	lease *lease.Lease
	cons  jetstream.Consumer

	// ctx ends when the lease is lost or the processor gives up on the
	// commands in flight; abandon ends it.
	ctx     context.Context
	abandon context.CancelFunc

	mu     sync.Mutex
	it     jetstream.MessagesContext
	held   map[uint64]jetstream.Msg // by stream sequence: every command held
	queues map[string][]queued      // by customer: commands waiting, by sequence
	busy   map[string]bool          // customers with a command in flight
	// unconfirmed holds, by customer, the last command finished here if its
	// ack was sent without waiting for the server's confirmation, until the
	// customer's next command asks for it, or for finishedFor.
	unconfirmed map[string]finishedCmd
	// done holds the stream sequences of the commands finished here in the
	// last finishedFor, so that a delivery of one again (its ack lost, and
	// its ack wait run out) is acknowledged, not applied again, perhaps
	// after a later command of its customer. sweptAt is when the old
	// entries of both were last dropped.
	done     map[uint64]time.Time
	sweptAt  time.Time
	stopping bool
	// waiting counts the commands that JetStream will deliver again and
	// that have not come back yet: those the partition's previous holder
	// left unacknowledged, and deliveries that never arrived (delivered).
	// Nothing starts until they have come (or until they certainly never
	// will), so that they are applied in stream order whatever order
	// JetStream redelivers them in.
	waiting int
	// waitUntil is when waiting gives up (see stopWaiting).
	waitUntil time.Time
	// delivered is the consumer sequence of the last delivery seen. Only
	// this process pulls from the partition's consumer while it holds the
	// lease, so a delivery that skips sequences means deliveries that never
	// arrived: lost with the connection when a NATS server died, or taken
	// by a pull the previous holder left behind. JetStream redelivers them
	// after their ack wait, and the partition holds back until then.
	delivered uint64
	inflight  sync.WaitGroup
	pulled    chan struct{} // closed when the pull loop has ended
}

func (p *Processor) newPartition(name string, ls *lease.Lease, cons jetstream.Consumer) *partition {
	ctx, cancel := context.WithCancel(context.Background())
	return &partition{
		p: p, name: name, lease: ls, cons: cons, ctx: ctx, abandon: cancel,
		held: map[uint64]jetstream.Msg{}, queues: map[string][]queued{}, busy: map[string]bool{},
		unconfirmed: map[string]finishedCmd{}, done: map[uint64]time.Time{}, sweptAt: time.Now(),
		pulled: make(chan struct{}),
	}
}

// queued is a command waiting for its customer's previous one.
type queued struct {
	seq  uint64
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata // msg's, parsed by add
}

// finishedCmd is a command finished, acknowledged without confirmation.
type finishedCmd struct {
	msg jetstream.Msg
	at  time.Time
}

// finishedFor is how long a finished command is remembered: its ack wait
// and a margin. A command whose ack was lost is delivered again when its
// ack wait runs out, counted from its last delivery or progress report, both
// before it finished; what comes later was acknowledged after all (the
// margin that partition.holdBackLocked allows too).
func (pt *partition) finishedFor() time.Duration { return pt.p.cfg.AckWait + 2*time.Second }

// sweepLocked forgets the commands finished longer than finishedFor ago,
// at most once a second.
func (pt *partition) sweepLocked(now time.Time) {
	if now.Sub(pt.sweptAt) < time.Second {
		return
	}
	pt.sweptAt = now
	for key, f := range pt.unconfirmed {
		if now.Sub(f.at) > pt.finishedFor() {
			delete(pt.unconfirmed, key)
		}
	}
	for seq, at := range pt.done {
		if now.Sub(at) > pt.finishedFor() {
			delete(pt.done, seq)
		}
	}
}

// nextLocked takes the customer's first queued command to run, with the
// customer's previous command if its ack still waits for confirmation.
func (pt *partition) nextLocked(key string) (next queued, prev jetstream.Msg) {
	q := pt.queues[key]
	next = q[0]
	pt.queues[key] = q[1:]
	if f, ok := pt.unconfirmed[key]; ok {
		prev = f.msg
		delete(pt.unconfirmed, key)
	}
	return next, prev
}

// start starts pulling the partition's commands. The commands its previous
// holder left unacknowledged come back first, but in the order their ack
// waits ran out, not necessarily in stream order: start counts them, and
// the partition starts nothing until all have come back, or until
// AckWait (plus a margin) has passed, after which any not back was
// acknowledged after all.
func (pt *partition) start(ctx context.Context) error {
	info, err := pt.cons.Info(ctx)
	if err != nil {
		close(pt.pulled)
		return err
	}
	it, err := pt.cons.Messages(jetstream.PullMaxMessages(pt.p.cfg.Concurrency))
	if err != nil {
		close(pt.pulled)
		return err
	}
	pt.mu.Lock()
	pt.it = it
	pt.delivered = info.Delivered.Consumer
	if info.NumAckPending > 0 {
		pt.holdBackLocked(info.NumAckPending)
	}
	pt.mu.Unlock()
	go pt.pull()
	return nil
}

// holdBackLocked makes the partition wait for n more redeliveries before
// it starts anything, for at most AckWait plus a margin from now.
func (pt *partition) holdBackLocked(n int) {
	pt.waiting += n
	until := time.Now().Add(pt.p.cfg.AckWait + 2*time.Second)
	if until.After(pt.waitUntil) {
		pt.waitUntil = until
		time.AfterFunc(time.Until(until), pt.stopWaiting)
	}
}

// stopWaiting gives up waiting for the commands held back for: any that
// has not come back by now was acknowledged after all.
func (pt *partition) stopWaiting() {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.waiting == 0 || time.Now().Before(pt.waitUntil) {
		return // done, or a later hold back has its own timer
	}
	pt.waiting = 0
	pt.startIdleLocked()
}

// startIdleLocked starts the first command of every customer that has none
// in flight.
func (pt *partition) startIdleLocked() {
	if pt.stopping || pt.waiting > 0 {
		return
	}
	for key, q := range pt.queues {
		if pt.busy[key] || len(q) == 0 {
			continue
		}
		pt.startIdleLockedKey(key)
	}
}

func (pt *partition) pull() {
	defer close(pt.pulled)
	for {
		msg, err := pt.it.Next()
		if err != nil {
			if pt.ctx.Err() != nil || errorsIsClosed(err) {
				return
			}
			pt.p.log.Debug("fetching commands", "partition", pt.name, "err", err)
			pause(pt.ctx, 100*time.Millisecond) // a disconnect must not make this spin
			continue
		}
		pt.add(msg)
	}
}

// add takes a delivered command: it starts it, or queues it, in sequence
// order, behind the customer's command in flight. A second delivery of a
// command already held is ignored: the one held is finished and
// acknowledged in its turn.
func (pt *partition) add(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	seq, key := meta.Sequence.Stream, customerToken(msg.Subject())
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if c := meta.Sequence.Consumer; c > pt.delivered {
		if lost := c - pt.delivered - 1; lost > 0 {
			pt.p.log.Warn("deliveries of a partition never arrived; holding it back until JetStream delivers them again",
				"partition", pt.name, "lost", lost, "consumer_seq", c)
			pt.holdBackLocked(int(lost))
		}
		pt.delivered = c
	}
	if _, dup := pt.held[seq]; dup {
		return
	}
	if _, done := pt.done[seq]; done {
		// Finished here already, its ack lost: acknowledged again, not
		// applied again (a later command of the customer may have been).
		_ = msg.Ack()
		return
	}
	pt.sweepLocked(time.Now())
	pt.held[seq] = msg
	pt.p.holder.hold(msg)
	q := pt.queues[key]
	i, _ := slices.BinarySearchFunc(q, seq, func(e queued, s uint64) int { return cmp.Compare(e.seq, s) })
	pt.queues[key] = slices.Insert(q, i, queued{seq: seq, msg: msg, meta: meta})
	if pt.waiting > 0 {
		if meta.NumDelivered > 1 { // one of those held back for
			pt.waiting--
		}
		if pt.waiting == 0 {
			pt.startIdleLocked()
		}
		return
	}
	if !pt.busy[key] && !pt.stopping {
		pt.startIdleLockedKey(key)
	}
}

// startIdleLockedKey starts the customer's first queued command.
func (pt *partition) startIdleLockedKey(key string) {
	next, prev := pt.nextLocked(key)
	pt.busy[key] = true
	pt.inflight.Add(1)
	pt.p.run.Go(func() { pt.run(next, key, prev) })
}

// run handles the command next, then the customer's next command, if any.
// prev, when not nil, is the customer's previous command, acknowledged
// without confirmation: next starts once the server confirms that ack.
func (pt *partition) run(next queued, key string, prev jetstream.Msg) {
	msg, seq := next.msg, next.seq
	defer pt.inflight.Done()
	var unconfirmed bool
	confirm := func() bool { // under handle, once msg's result is stored
		pt.mu.Lock()
		defer pt.mu.Unlock()
		unconfirmed = len(pt.queues[key]) == 0
		return !unconfirmed
	}
	for {
		if prev != nil {
			if err := pt.p.confirmAck(pt.ctx, prev); err != nil {
				return // abandoned, as below
			}
		}
		unconfirmed = false
		if !pt.p.handle(pt.ctx, next.msg, next.meta, pt.lease, confirm) {
			return // abandoned: stays held, handed back or left to expire
		}
		pt.mu.Lock()
		delete(pt.held, seq)
		pt.p.holder.release(msg)
		now := time.Now()
		pt.done[seq] = now
		if unconfirmed {
			pt.unconfirmed[key] = finishedCmd{msg: msg, at: now}
		}
		q := pt.queues[key]
		if len(q) == 0 || pt.stopping || pt.waiting > 0 {
			pt.busy[key] = false
			if len(q) == 0 {
				delete(pt.queues, key)
				delete(pt.busy, key)
			}
			pt.mu.Unlock()
			return
		}
		next, prev = pt.nextLocked(key)
		msg, seq = next.msg, next.seq
		pt.mu.Unlock()
	}
}

// confirmAck acknowledges msg again, as a request, and waits until the
// server answers, which it does once it has msg's ack (the first, or this
// one when the first was lost). It retries until ctx ends.
func (p *Processor) confirmAck(ctx context.Context, msg jetstream.Msg) error {
	return retry(ctx, func(ctx context.Context) error {
		_, err := p.nc.RequestWithContext(ctx, msg.Reply(), ackBody)
		return err
	})
}

// ackBody is JetStream's positive acknowledgement.
var ackBody = []byte("+ACK")

// stop stops the partition. Commands in flight get until grace ends to
// finish; then they are abandoned. With the lease still held, every command
// left is handed back in stream order (so that whoever takes the partition
// next gets them in order, before anything newer) and the lease is
// released; a lost lease is left alone, its commands come back to whoever
// holds it after AckWait.
func (pt *partition) stop(grace time.Duration, leases *lease.Leases) {
	pt.mu.Lock()
	pt.stopping = true
	it := pt.it
	pt.mu.Unlock()
	if it != nil {
		it.Drain() // what is buffered comes through Next, to be held and handed back
	}
	<-pt.pulled
	done := make(chan struct{})
	go func() { pt.inflight.Wait(); close(done) }()
	t := time.NewTimer(grace)
	select {
	case <-done:
	case <-t.C:
		pt.abandon()
		<-done
	}
	t.Stop()
	pt.abandon()

	pt.mu.Lock()
	left := make([]uint64, 0, len(pt.held))
	for seq := range pt.held {
		left = append(left, seq)
	}
	slices.Sort(left)
	msgs := make([]jetstream.Msg, len(left))
	for i, seq := range left {
		msgs[i] = pt.held[seq]
		pt.p.holder.release(msgs[i])
	}
	pt.held = map[uint64]jetstream.Msg{}
	pt.mu.Unlock()
	if !pt.lease.Valid(0) {
		return
	}
	for _, m := range msgs {
		_ = m.Nak()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := leases.Release(ctx, pt.lease); err != nil {
		pt.p.log.Warn("cannot release a partition; another process takes it when the lease expires", "partition", pt.name, "err", err)
	}
}

// lose stops the partition at once after its lease was lost: nothing is
// handed back or acknowledged any more.
func (pt *partition) lose() {
	pt.abandon()
	pt.mu.Lock()
	pt.stopping = true
	it := pt.it
	for _, m := range pt.held {
		pt.p.holder.release(m)
	}
	pt.held = map[uint64]jetstream.Msg{}
	pt.mu.Unlock()
	if it != nil {
		it.Stop()
	}
}

func errorsIsClosed(err error) bool { return errors.Is(err, jetstream.ErrMsgIteratorClosed) }

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// customerToken returns the customer token of a stored update or delete
// subject (<prefix>.customer.<op>.<id>.<layout>.<n>).
func customerToken(stored string) string {
	tokens := strings.Split(stored, ".")
	if len(tokens) < 4 {
		return stored
	}
	return tokens[3]
}
