package deadletter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/streams"
)

// Queue reads the dead letters of CRM_DLQ under a subject prefix. Its zero
// value is not usable: JS is required.
type Queue struct {
	JS       jetstream.JetStream
	Subjects streams.Subjects
	// Timeout bounds a read of the stream; each fetch waits at most 5s of
	// it.
	Timeout time.Duration
}

// Read calls fn with each dead letter of op (one of Ops; "" for all),
// oldest first, until fn returns false; total is how many the stream held
// of op when reading began. Dead letters stored after that are not read.
// It fails, with an error that says so, when CRM_DLQ does not exist.
func (q Queue) Read(ctx context.Context, op string, fn func(Letter) bool) (total int, err error) {
	cctx, cancel := context.WithTimeout(ctx, q.Timeout)
	defer cancel()
	c, err := q.consumer(cctx, op)
	if err != nil {
		return 0, err
	}
	defer func() { // rather than leave it to the server's inactivity threshold
		if ci := c.CachedInfo(); ci != nil {
			_ = q.JS.DeleteConsumer(context.WithoutCancel(cctx), streams.DLQ, ci.Name)
		}
	}()
	info, err := c.Info(cctx)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", streams.DLQ, err)
	}
	total = int(info.NumPending)
	return total, q.fetch(ctx, c, total, fn)
}

// consumer returns an ordered consumer of the dead letters of op.
func (q Queue) consumer(ctx context.Context, op string) (jetstream.Consumer, error) {
	filter := q.Subjects.DLQ(cmp.Or(op, "*"))
	c, err := q.JS.OrderedConsumer(ctx, streams.DLQ, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("no stream %s: has a bridge run with this NATS? (%w)", streams.DLQ, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streams.DLQ, err)
	}
	return c, nil
}

// fetch calls fn with the first total messages of c, in batches, until fn
// returns false or c has no more.
func (q Queue) fetch(ctx context.Context, c jetstream.Consumer, total int, fn func(Letter) bool) error {
	seen, more := 0, true
	for more && seen < total {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := c.Fetch(min(total-seen, 500), jetstream.FetchMaxWait(min(q.Timeout, 5*time.Second)))
		if err != nil {
			return fmt.Errorf("read %s: %w", streams.DLQ, err)
		}
		got := 0
		for m := range batch.Messages() { // read the whole batch, also after fn said stop
			got++
			meta, err := m.Metadata()
			if err != nil || !more {
				continue
			}
			seen++
			more = fn(Letter{Seq: meta.Sequence.Stream, Stored: meta.Timestamp, Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}) && meta.NumPending > 0
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("read %s: %w", streams.DLQ, err)
		}
		if got == 0 { // removed since reading began
			return nil
		}
	}
	return nil
}

// All returns every dead letter, oldest first (see Read).
func (q Queue) All(ctx context.Context) ([]Letter, error) {
	var letters []Letter
	_, err := q.Read(ctx, "", func(l Letter) bool {
		letters = append(letters, l)
		return true
	})
	return letters, err
}

// Stream returns CRM_DLQ, to remove dead letters from (see Remove).
func (q Queue) Stream(ctx context.Context) (jetstream.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, q.Timeout)
	defer cancel()
	return q.JS.Stream(ctx, streams.DLQ)
}

// Remove deletes the dead letter at seq from st (CRM_DLQ). It returns an
// error that is jetstream.ErrMsgNotFound when the dead letter is gone
// already (removed meanwhile by a replay or a discard).
func Remove(ctx context.Context, st jetstream.Stream, seq uint64) error {
	err := st.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if _, gerr := st.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return gerr
	}
	return err
}

// Discard removes each of chosen from st (CRM_DLQ), in order, each
// removal bounded by timeout, and calls fn with each and what became of
// it: nil when it was removed, an error that is jetstream.ErrMsgNotFound
// when it was gone already, or why it was not removed (ctx's cause for
// each one left once ctx ends).
func Discard(ctx context.Context, st jetstream.Stream, chosen []Letter, timeout time.Duration, fn func(Letter, error)) {
	for _, l := range chosen {
		err := context.Cause(ctx)
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, timeout)
			err = Remove(rctx, st, l.Seq)
			cancel()
		}
		fn(l, err)
	}
}
