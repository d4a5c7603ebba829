package poller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
)

// reconcile runs after a complete export: a customer in the state that it
// did not show is gone if the CRM says so (a 404 for its id); if the CRM
// still has it, the export skipped it (a page shifted) and it is handled
// as any record. Errors from the CRM leave the customer for the next
// reconcile.
func (ps *pass) reconcile(ctx context.Context) error {
	missing := make(map[idHash]entry)
	for h, e := range ps.x.m {
		if e.seen != ps.no && !ps.aside(h) {
			missing[h] = e
		}
	}
	if len(missing) == 0 {
		return nil
	}
	ids, err := ps.missingIDs(ctx, missing)
	if err != nil {
		return err
	}
	// Ask the CRM about each, Workers at a time.
	work := make([]change, len(ids))
	err = each(ctx, ps.p.cfg.Workers, len(ids), func(ctx context.Context, i int) error {
		work[i] = ps.confirm(ctx, ids[i], missing)
		return nil
	})
	if err != nil {
		return err
	}
	work = slices.DeleteFunc(work, func(c change) bool { return c.id == "" })
	return ps.applyAll(ctx, work, ps.p.cfg.Now())
}

// confirm asks the CRM whether a customer missing from a complete export
// is gone. It returns the change to apply: gone (a 404), or the record the
// export skipped; or no change (empty id) when the CRM cannot tell.
func (ps *pass) confirm(ctx context.Context, id string, missing map[idHash]entry) change {
	h := ps.x.hash(id)
	c, err := ps.p.crm.Get(ctx, id)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		return change{id: id, h: h, known: true, chunk: ps.x.chunkAt(missing[h]), fixModel: true}
	case err != nil:
		if ctx.Err() == nil {
			ps.p.log.Warn("customer missing from the export, but the CRM does not say it is gone; checking again at the next reconcile",
				"customer_id", id, "err", err)
		}
		return change{}
	}
	d, err := wholeDigest(c.Raw)
	if err != nil {
		ps.p.metrics.invalid.Inc()
		ps.p.log.Error("customer record skipped", "customer_id", id, "err", err)
		return change{}
	}
	fix := missing[h].seen&modelOK == 0
	return change{id: id, h: h, raw: c.Raw, digest: d, known: true, chunk: ps.x.chunkAt(missing[h]), fixModel: fix}
}

// missingIDs finds the ids of the missing customers: in their chunks, or
// from the subjects of their own entries.
func (ps *pass) missingIDs(ctx context.Context, missing map[idHash]entry) ([]string, error) {
	var ids []string
	chunks := make(map[uint64]bool)
	own := false
	for _, e := range missing {
		if e.chunk == 0 {
			own = true
		} else {
			chunks[ps.x.chunkSeq(e)] = true
		}
	}
	for seq := range chunks {
		var err error
		if ids, err = ps.missingInChunk(ctx, seq, missing, ids); err != nil {
			return nil, err
		}
	}
	if !own {
		return ids, nil
	}
	return ps.missingOwn(ctx, missing, ids)
}

// missingOwn appends to ids the missing customers with entries of their
// own.
func (ps *pass) missingOwn(ctx context.Context, missing map[idHash]entry, ids []string) ([]string, error) {
	err := ps.p.store.scan(ctx, "c.>", true, func(key string, m jetstream.Msg) error {
		if isDeleteMarker(m.Headers()) {
			return nil
		}
		id, err := keyID(key)
		if err == nil {
			if e, ok := missing[ps.x.hash(id)]; ok && e.chunk == 0 {
				ids = append(ids, id)
			}
		}
		return err
	})
	return ids, err
}

// missingInChunk appends to ids the missing customers whose saved record
// is in chunk seq.
func (ps *pass) missingInChunk(ctx context.Context, seq uint64, missing map[idHash]entry, ids []string) ([]string, error) {
	m, err := ps.p.store.stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("poller: chunk %d: %w", seq, err)
	}
	err = readChunk(m.Data, func(r chunkRecord) bool {
		if e, ok := missing[ps.x.hash(r.id)]; ok && e.chunk != 0 && ps.x.chunkSeq(e) == seq {
			ids = append(ids, r.id)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("poller: chunk %d: %w", seq, err)
	}
	return ids, nil
}
