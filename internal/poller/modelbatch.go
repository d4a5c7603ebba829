package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/model"
)

// modelBatch writes a round's or a page's read model entries without a
// round trip each, and then waits for them all (wait): in one fast batch
// (ADR-50) when the model's stream allows it, which the server
// acknowledges once every few hundred entries and once more when all are
// stored; otherwise as asynchronous puts, each acknowledged.
//
// Its use is put, put, ..., seal, wait: seal ends the batch, and from
// then on the server stores the rest while the pass goes on.
type modelBatch struct {
	n       int // entries put
	fast    *fastModel
	pending []jetstream.PubAckFuture
}

// fastModel is a fast batch of read model entries.
type fastModel struct {
	fp     jetstreamext.FastPublisher
	sealed bool
	done   chan struct{} // closed when the batch's commit is answered
	ack    *jetstreamext.BatchAck
	err    error // the commit's, then the first the server reported
	mu     sync.Mutex
	report error // the first error the server reported on its own
}

// fastModelFlow is the fast batches' flow control: the server
// acknowledges every 500 entries, and a batch may run 4 such ahead, more
// than a round or page puts, before put waits for an acknowledgement.
var fastModelFlow = jetstreamext.FastPublishFlowControl{Flow: 500, MaxOutstandingAcks: 4}

// put starts writing record as id's entry, or deleting it when record is
// nil; it fails with lease.ErrLost when the lease may have lapsed.
func (b *modelBatch) put(ps *pass, id string, record json.RawMessage) error {
	if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	var value []byte
	if record != nil {
		value = modelValue(id, record, int(ps.p.js.Conn().MaxPayload()))
	}
	key := model.Key(id)
	if b.n == 0 && ps.p.batched.Load() {
		b.fast = &fastModel{}
	}
	b.n++
	if b.fast != nil {
		err := b.fast.add(ps.p.js, key, value)
		if err == nil {
			return nil
		}
		if b.n > 1 || !batchRefused(err) {
			if r := b.fast.reported(); r != nil {
				err = fmt.Errorf("%w (%w)", err, r)
			}
			return fmt.Errorf("poller: read model %s: %w", id, err)
		}
		ps.p.batched.Store(false)
		ps.p.log.Warn("poller: the read model's stream refuses fast batches (allow_batched is off); writing its entries one by one", "err", err)
		b.fast = nil
	}
	var ack jetstream.PubAckFuture
	var err error
	if record == nil {
		ack, err = deleteModelAsync(ps.p.js, key)
	} else {
		ack, err = putModelAsync(ps.p.js, key, value)
	}
	if err != nil {
		return fmt.Errorf("poller: read model %s: %w", id, err)
	}
	b.pending = append(b.pending, ack)
	return nil
}

// batchRefused reports whether err is the server refusing to start a
// fast batch because the stream does not allow it.
func batchRefused(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstreamext.JSErrCodeFastBatchNotEnabled
}

// seal ends the batch: no entry is put after it. A fast batch's commit
// is sent, and answered once the server stored every entry. A batch that
// is never waited for must still be sealed, or its publisher stays
// subscribed.
func (b *modelBatch) seal(ctx context.Context) {
	if b.fast != nil && !b.fast.sealed {
		b.fast.seal(ctx)
	}
}

// wait waits for every entry put to be stored; it returns the first
// error. It seals the batch if it is not sealed yet.
func (b *modelBatch) wait(ctx context.Context) error {
	var first error
	if f := b.fast; f != nil {
		b.seal(ctx)
		first = f.wait(ctx, b.n)
	}
	for _, ack := range b.pending {
		if _, err := await(ctx, ack); err != nil && first == nil {
			first = fmt.Errorf("poller: read model: %w", err)
		}
	}
	*b = modelBatch{}
	return first
}

// add publishes one entry into the batch, starting it on the first.
func (f *fastModel) add(js jetstream.JetStream, key string, value []byte) error {
	if f.fp == nil {
		fp, err := jetstreamext.NewFastPublisher(js, fastModelFlow, jetstreamext.WithFastPublisherErrorHandler(f.keep))
		if err != nil {
			return err
		}
		f.fp = fp
	}
	_, err := f.fp.AddMsg(ModelMsg(key, value))
	return err
}

// keep keeps the first error the server reports on its own: a gap, or
// an entry it could not store (which ends the batch there).
func (f *fastModel) keep(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.report == nil {
		f.report = err
	}
}

// reported returns the first error the server reported on its own.
func (f *fastModel) reported() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.report
}

// seal sends the batch's commit; its answer is awaited beside the pass.
func (f *fastModel) seal(ctx context.Context) {
	f.sealed = true
	f.done = make(chan struct{})
	if f.fp == nil {
		f.err = errors.New("no batch was started")
		close(f.done)
		return
	}
	go func() {
		defer close(f.done)
		f.ack, f.err = f.fp.Close(ctx)
	}()
}

// wait waits for the batch's commit to be answered, and checks that the
// server stored all n entries.
func (f *fastModel) wait(ctx context.Context, n int) error {
	select {
	case <-f.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	report := f.reported()
	switch {
	case f.err != nil && report != nil:
		return fmt.Errorf("poller: read model: batch of %d entries: %w (%w)", n, f.err, report)
	case f.err != nil:
		return fmt.Errorf("poller: read model: batch of %d entries: %w", n, f.err)
	case f.ack.BatchSize != uint64(n):
		return fmt.Errorf("poller: read model: batch of %d entries: the server stored %d: %v", n, f.ack.BatchSize, report)
	}
	return nil
}
