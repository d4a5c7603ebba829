package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/model"
)

// The read model (model.Bucket) holds every customer's record as the state
// holds it: the poller writes a customer's entry after its event is
// stored and before its state entry is saved, on every path that saves
// one (apply, catchUp, a first start's chunks), so that the model is never
// ahead of the events, and at most one poll behind them. A complete
// export also repairs it (scanModel, then page and dropStrays): entries
// missing, different, or left for a customer the state no longer holds.

// modelOK marks, in entry.seen, a customer whose read model entry a
// complete export's scanModel found to hold its saved record. Pass numbers
// stay below it; a marked entry counts as not seen by the pass.
const modelOK = 1 << 31

// modelValue returns the read model's value for a customer's record: the
// record itself, or its stub when the record exceeds limit bytes.
func modelValue(id string, record json.RawMessage, limit int) []byte {
	if len(record) <= limit {
		return record
	}
	st := model.Stub{ID: id, Truncated: true, Bytes: len(record)}
	st.UpdatedAt, _ = updatedAt(record)
	b, _ := json.Marshal(st) // cannot fail
	return b
}

// putModel writes one customer's read model entry: record, or a delete
// when record is nil. It fails with lease.ErrLost when the lease may have
// lapsed.
func (p *Poller) putModel(ctx context.Context, ls *lease.Lease, id string, record json.RawMessage) error {
	if !ls.Valid(p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	if err := p.modelw.put(ctx, p.js, p.modelMsg(id, record)); err != nil {
		return fmt.Errorf("poller: read model %s: %w", id, err)
	}
	return nil
}

// scanModel reads the read model at the start of a complete export. An
// entry that holds its customer's saved record (or a stub of it) marks
// the customer modelOK; the pass rewrites the entries of the others as it
// reads them. Entries of customers the state does not hold are kept in
// ps.strays, for dropStrays.
func (ps *pass) scanModel(ctx context.Context) error {
	w, err := ps.p.model.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("poller: read model: %w", err)
	}
	defer w.Stop()
	start, n := time.Now(), 0
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e = <-w.Updates():
		}
		if e == nil {
			ps.p.log.Debug("read model read", "entries", n, "strays", len(ps.strays),
				"took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		n++
		_ = ps.step(func() error { ps.scanned(e); return nil })
	}
}

// scanned notes one read model entry for scanModel.
func (ps *pass) scanned(e jetstream.KeyValueEntry) {
	id, err := model.ID(e.Key())
	if err != nil {
		ps.p.log.Warn("read model entry with a key no customer has; deleting it", "key", e.Key())
		ps.strays = append(ps.strays, stray{key: e.Key()})
		return
	}
	h := ps.x.hash(id)
	x, known := ps.x.m[h]
	if !known {
		ps.strays = append(ps.strays, stray{key: e.Key(), id: id, h: h})
		return
	}
	if d, err := wholeDigest(e.Value()); (err == nil && d == x.digest) || model.IsStub(e.Value()) {
		x.seen = ps.no | modelOK
		ps.x.m[h] = x
	}
}

// stray is a read model entry of a customer the state does not hold.
type stray struct {
	key string
	id  string // "" for a key no customer has
	h   idHash
}

// dropStrays deletes, at the end of a complete export, the read model
// entries of customers that the state still does not hold.
func (ps *pass) dropStrays(ctx context.Context) error {
	for _, s := range ps.strays {
		if _, ok := ps.x.m[s.h]; ok && s.id != "" {
			continue
		}
		if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
			return lease.ErrLost
		}
		ps.p.modelw.forget() // a write whose sequence it cannot tell
		if err := ps.p.model.Delete(ctx, s.key); err != nil {
			return fmt.Errorf("poller: read model: delete %s: %w", s.key, err)
		}
		ps.p.log.Info("read model entry of a customer the bridge does not know; deleted", "key", s.key, "customer_id", s.id)
	}
	ps.strays = nil
	return nil
}

// loadModelStatus reads whether the read model was filled; an error
// leaves it unfilled, so that the first pass fills it.
func (p *Poller) loadModelStatus(ctx context.Context) bool {
	st, err := model.ReadStatus(ctx, p.modelStatus)
	if err != nil {
		p.log.Warn("poller: cannot read the read model's status; the first poll reads the complete export", "err", err)
		return false
	}
	return st.Filled
}

// writeModelStatus saves the read model's status after a completed poll
// that started at start. A failure is logged: the next poll writes it
// again.
func (p *Poller) writeModelStatus(ctx context.Context, filled bool, start time.Time) {
	err := model.WriteStatus(ctx, p.modelStatus, model.Status{Filled: filled, AsOf: start})
	if err != nil && !errors.Is(err, context.Canceled) {
		p.log.Warn("poller: cannot save the read model's status", "err", err)
	}
}
