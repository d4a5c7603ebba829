package poller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/model"
)

// DeletesBucket is the key-value bucket of the deletes the bridge applied
// itself and the poller has not published yet: one entry per customer,
// keyed as in the read model (model.Key), its value the time the delete
// was noted. The commands processor writes it (NoteDeleted), the active
// poller reads and clears it at every poll.
const DeletesBucket = "crm_bridge_deletes"

// deletesTTL bounds how long a note is kept: past a complete export
// (BRIDGE_RECONCILE_INTERVAL), the export has found the delete anyway.
func deletesTTL(reconcile time.Duration) time.Duration { return max(reconcile, time.Hour) + time.Hour }

// maxDeletesPerPoll bounds the notes one poll confirms, so that a burst of
// deletes does not hold up a poll: the rest wait for the next.
const maxDeletesPerPoll = 256

// appliedDeletes opens DeletesBucket on first use, from any goroutine.
type appliedDeletes struct {
	js       jetstream.JetStream
	ttl      time.Duration
	replicas int

	mu sync.Mutex
	kv jetstream.KeyValue
}

// bucket returns the bucket, creating or updating it the first time; a
// failure is returned and tried again on the next call.
func (d *appliedDeletes) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kv != nil {
		return d.kv, nil
	}
	kv, err := d.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      DeletesBucket,
		Description: "crm-bridge: deletes applied through commands, for the poller to publish at once",
		History:     1,
		TTL:         d.ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    d.replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("poller: bucket %s: %w", DeletesBucket, err)
	}
	d.kv = kv
	return kv, nil
}

// NoteDeleted records in JetStream that the bridge deleted customer id
// (or found it gone), so that the active poller, in whichever process,
// confirms the delete with a get at its next poll and publishes the
// customer's deleted event then, rather than at the next complete export.
// It is idempotent: noting one customer twice keeps one note, and a
// delete already published makes no second event. It is safe for
// concurrent use, in any process, active poller or not. It returns an
// error when the note could not be stored.
func (p *Poller) NoteDeleted(ctx context.Context, id string) error {
	kv, err := p.deletes.bucket(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, model.Key(id), []byte(p.cfg.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("poller: note delete of %s: %w", id, err)
	}
	return nil
}

// deleteNote is one note read by a poll.
type deleteNote struct {
	key string
	id  string
	rev uint64
}

// appliedDeletes publishes the deletes the bridge applied itself: each
// noted customer that the poller knows and the CRM's get answers NotFound
// (its enveloped NotFound only, crm.ErrNotFound) is a deleted event, made
// and saved as any change (so that a delete a reconcile already published
// makes none). A customer the poller does not know (gone already, or
// never seen) or that the CRM still has (the export shows it) needs
// nothing; any other answer keeps the note for the next poll.
func (ps *pass) appliedDeletes(ctx context.Context) error {
	kv, err := ps.p.deletes.bucket(ctx)
	if err != nil {
		return err
	}
	notes, err := readNotes(ctx, kv)
	if err != nil {
		return err
	}
	work, done, err := ps.confirmNotes(ctx, notes)
	if err != nil {
		return err
	}
	// apply publishes each deleted event, then deletes the customer's read
	// model entry, then saves the state, as for any other change.
	if err := ps.applyAll(ctx, work, ps.p.cfg.Now()); err != nil {
		return err
	}
	for _, n := range done {
		err := kv.Delete(ctx, n.key, jetstream.LastRevision(n.rev))
		if err != nil && !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			// A newer note (ErrKeyExists) stays; a failure leaves the note for the next poll.
			ps.p.log.Debug("poller: cannot clear a delete note", "customer_id", n.id, "err", err)
		}
	}
	return nil
}

// confirmNotes asks the CRM about each noted customer the poller knows:
// it returns the deletes to apply, and the notes done with.
func (ps *pass) confirmNotes(ctx context.Context, notes []deleteNote) (work []change, done []deleteNote, err error) {
	for _, n := range notes {
		h := ps.x.hash(n.id)
		e, known := ps.x.m[h]
		if !known {
			done = append(done, n)
			continue
		}
		_, err := ps.p.crm.Get(ctx, n.id)
		switch {
		case errors.Is(err, crm.ErrNotFound):
			work = append(work, change{id: n.id, h: h, known: true, chunk: ps.x.chunkAt(e)})
			done = append(done, n)
		case err == nil:
			done = append(done, n)
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		default:
			ps.p.log.Warn("customer deleted through a command, but the CRM does not say it is gone; checking again at the next poll",
				"customer_id", n.id, "err", err)
		}
	}
	return work, done, nil
}

// readNotes returns up to maxDeletesPerPoll notes of the bucket.
func readNotes(ctx context.Context, kv jetstream.KeyValue) ([]deleteNote, error) {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("poller: delete notes: %w", err)
	}
	defer lister.Stop() //nolint:errcheck // only stops the lister's watcher
	var notes []deleteNote
	for key := range lister.Keys() {
		if len(notes) == maxDeletesPerPoll {
			break
		}
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("poller: delete note %s: %w", key, err)
		}
		id, err := model.ID(key)
		if err != nil {
			continue // not ours; it expires with the bucket's TTL
		}
		notes = append(notes, deleteNote{key: key, id: id, rev: e.Revision()})
	}
	return notes, nil
}
