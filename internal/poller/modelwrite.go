package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
)

// The read model's entries go out a batch at a time: a round's, or a
// page's. A PubAck per entry costs the server a reply and the poller a
// future and a JSON decode, some 10 µs of CPU between them for every
// customer a bulk change touches; a batch needs one. Once the writer
// knows the last sequence of the model's stream, it sends a batch's
// entries but the last without a reply, and the last with
// Nats-Expected-Last-Sequence set to where the others must have taken the
// stream: its PubAck then means the server stored every entry of the
// batch, each at its place. When the server dropped or refused one (its
// stream's ingest queue full, say), or any other write came between, the
// last is refused, and the batch is sent again, every entry acknowledged
// on its own, as every batch is until the writer learns the sequence
// again; so is every batch sent before that and not yet waited for, in
// their order. The same records written twice leave the model as once.
//
// What this cannot tell is an entry the server dropped while, in the same
// batch, exactly as many writes of someone else's came between: the count
// is then right. Only the active poller writes the model (its other writes
// go through the writer, or make it forget), so that takes a foreign write
// into the bucket (a poller whose lease lapsed, a person) at the moment
// the server sheds load; the next complete export repairs such an entry.

// modelWriter orders the read model's writes of one active poller, so
// that it knows the model stream's last sequence. Its zero value knows
// nothing; it learns from a batch acknowledged entry by entry.
type modelWriter struct {
	mu sync.Mutex
	// last is the model stream's last sequence once every write sent is
	// stored; known is false until a batch taught it, and after any
	// write whose sequence the writer cannot tell.
	last  uint64
	known bool
	// sent counts the batches and writes sent, so that a batch learns
	// last only if nothing was sent after it.
	sent uint64
	// resendFrom is sent when a batch was last sent again: every batch
	// sent up to then and not yet waited for is sent again too, after
	// it, for the batches' order to hold in the model (a customer in two
	// of them keeps the later's record), whatever its own check said.
	resendFrom uint64
}

// forget makes the writer unsure of the stream's last sequence: the next
// batch is acknowledged entry by entry, and teaches it again.
func (w *modelWriter) forget() {
	w.mu.Lock()
	w.known = false
	w.mu.Unlock()
}

// put writes m, one customer's read model entry, and waits for its
// acknowledgement.
func (w *modelWriter) put(ctx context.Context, js jetstream.JetStream, m *nats.Msg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent++
	ack, err := js.PublishMsg(ctx, m)
	switch {
	case err != nil:
		w.known = false
	case w.known && ack.Sequence == w.last+1:
		w.last = ack.Sequence
	default:
		w.known = false
	}
	return err
}

// modelBatch is a round's or a page's read model entries: put adds them,
// send sends them, wait waits until they are stored.
type modelBatch struct {
	msgs []*nats.Msg
	// Set by send:
	gen     uint64                   // the writer's sent count after this batch; 0 until sent
	checked bool                     // all but the last sent without a reply
	acks    []jetstream.PubAckFuture // the last's only, when checked
}

// len is how many entries the batch holds.
func (b *modelBatch) len() int { return len(b.msgs) }

// put adds record as id's entry, or its delete when record is nil; it
// fails with lease.ErrLost when the lease may have lapsed.
func (b *modelBatch) put(ps *pass, id string, record json.RawMessage) error {
	if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	b.msgs = append(b.msgs, ps.p.modelMsg(id, record))
	return nil
}

// send sends the batch's entries, once: checked when the writer knows
// the model stream's last sequence and the batch holds two or more,
// else each acknowledged.
func (b *modelBatch) send(p *Poller) error {
	if b.gen != 0 || len(b.msgs) == 0 {
		return nil
	}
	w, js := &p.modelw, p.js
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent++
	b.gen = w.sent
	n := len(b.msgs)
	if !w.known || n < 2 {
		w.known = false
		return b.sendEach(js)
	}
	nc := js.Conn()
	for _, m := range b.msgs[:n-1] {
		if err := nc.PublishMsg(m); err != nil {
			w.known = false
			return fmt.Errorf("poller: read model: %w", err)
		}
	}
	ack, err := js.PublishMsgAsync(b.msgs[n-1], jetstream.WithExpectLastSequence(w.last+uint64(n-1)))
	if err != nil {
		w.known = false
		return fmt.Errorf("poller: read model: %w", err)
	}
	b.checked, b.acks = true, []jetstream.PubAckFuture{ack}
	w.last += uint64(n)
	return nil
}

// sendEach sends every entry with its own acknowledgement.
func (b *modelBatch) sendEach(js jetstream.JetStream) error {
	b.checked, b.acks = false, make([]jetstream.PubAckFuture, 0, len(b.msgs))
	for _, m := range b.msgs {
		m.Header.Del(jetstream.ExpectedLastSeqHeader) // the check send set on the last
		ack, err := js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("poller: read model: %w", err)
		}
		b.acks = append(b.acks, ack)
	}
	return nil
}

// wait sends the batch if it is not sent, and waits until every entry is
// stored; it returns the first error. A checked batch whose last entry is
// refused is sent again, each entry acknowledged, and so is every batch
// sent before that and not yet waited for. Batches must be waited for in
// the order they were sent.
func (b *modelBatch) wait(ctx context.Context, p *Poller) error {
	if len(b.msgs) == 0 {
		return nil
	}
	defer func() { b.msgs, b.acks, b.gen = nil, nil, 0 }()
	if err := b.send(p); err != nil {
		return err
	}
	w := &p.modelw
	if b.checked {
		_, err := await(ctx, b.acks[0])
		switch {
		case err != nil && ctx.Err() != nil:
			return err
		case err != nil:
			// Not every entry was stored where it should be.
			p.log.Warn("poller: a batch of read model entries was not stored as sent; sending each again, acknowledged",
				"entries", len(b.msgs), "err", err)
		case !w.behind(b.gen):
			return nil
		}
		return b.resend(ctx, p)
	}
	if err := b.awaitEach(ctx, p); err != nil || !w.behind(b.gen) {
		return err
	}
	return b.resend(ctx, p)
}

// behind reports whether a batch sent gen-th was sent before one that was
// sent again.
func (w *modelWriter) behind(gen uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return gen <= w.resendFrom
}

// resend sends the batch again, each entry acknowledged, after every
// write sent so far, and waits for it.
func (b *modelBatch) resend(ctx context.Context, p *Poller) error {
	p.metrics.modelResent.Inc()
	w := &p.modelw
	w.mu.Lock()
	w.known = false
	w.resendFrom = w.sent
	w.sent++
	b.gen = w.sent
	err := b.sendEach(p.js)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	return b.awaitEach(ctx, p)
}

// awaitEach waits for the acknowledgement of each entry; once all are in,
// the writer learns the stream's last sequence from them if nothing was
// sent after the batch.
func (b *modelBatch) awaitEach(ctx context.Context, p *Poller) error {
	var first error
	var last uint64
	for _, f := range b.acks {
		ack, err := await(ctx, f)
		switch {
		case err != nil && first == nil:
			first = fmt.Errorf("poller: read model: %w", err)
		case err == nil:
			last = max(last, ack.Sequence)
		}
	}
	if first == nil && len(b.acks) > 0 {
		w := &p.modelw
		w.mu.Lock()
		if w.sent == b.gen {
			w.last, w.known = last, true
		}
		w.mu.Unlock()
	}
	return first
}
