package poller

import (
	"context"
	"encoding/json"

	"github.com/gormic/crm-bridge/internal/crm"
)

// change is one customer whose record differs from its saved one.
type change struct {
	id     string
	h      idHash
	raw    json.RawMessage // nil: gone
	digest uint64
	known  bool
	chunk  uint64 // the chunk of its saved record, 0 for none
	// silent records the customer without an event: one seen first at a
	// first start, too large for a chunk.
	silent bool
	// fixModel rewrites the customer's read model entry even when its
	// record is the saved one: a complete export found the entry wrong.
	fixModel bool
}

// page handles one page of the export.
func (ps *pass) page(ctx context.Context, items []crm.Customer) error {
	p := ps.p
	bulk := !ps.cur.Initialized && !p.cfg.InitialEvents
	var (
		work   []change
		chunks = ps.newChunkWriter()
		models modelBatch
	)
	detected := p.cfg.Now()
	p.metrics.records.Add(float64(len(items)))
	ps.mu.Lock()
	ps.records += len(items)
	ps.mu.Unlock()
	for i := range items {
		c := &items[i]
		d, err := wholeDigest(c.Raw)
		if err != nil {
			p.metrics.invalid.Inc()
			p.log.Error("customer record skipped", "customer_id", c.ID, "err", err)
			continue
		}
		ps.observe(c.ID, c.UpdatedAt)
		h := ps.x.hash(c.ID)
		if ps.aside(h) {
			continue
		}
		e, known := ps.x.m[h]
		if ps.again(h, e, known) {
			ps.unstable = true
		}
		switch {
		case known && e.digest == d:
			if ps.full && e.seen != ps.no && e.seen != ps.no|modelOK {
				if err := models.put(ps, c.ID, c.Raw); err != nil {
					return err
				}
			}
			if ps.here == nil {
				e.seen = ps.no
				ps.x.m[h] = e
			}
		case !known && bulk && len(c.Raw) > chunks.limit:
			work = append(work, change{id: c.ID, h: h, raw: c.Raw, digest: d, silent: true})
		case !known && bulk:
			if err := models.put(ps, c.ID, c.Raw); err != nil {
				return err
			}
			chunks.add(ps, chunkRecord{id: c.ID, digest: d, raw: c.Raw}, h)
		default:
			if known && ps.here == nil {
				e.seen = ps.no
				ps.x.m[h] = e
			}
			work = append(work, change{id: c.ID, h: h, raw: c.Raw, digest: d, known: known, chunk: ps.x.chunkSeq(e)})
		}
	}
	// The read model first, then the state that records the same
	// customers.
	if err := models.wait(ctx); err != nil {
		chunks.discard(ps)
		return err
	}
	if err := chunks.flush(ps); err != nil {
		return err
	}
	errApply := ps.applyAll(ctx, work, detected)
	if err := chunks.wait(ctx, ps); err != nil {
		return err
	}
	return errApply
}

// aside reports whether a complete export in the background leaves
// customer h alone: an incremental poll beside it applied a change of h,
// perhaps newer than the record this export read. Called in the lane's
// turn.
func (ps *pass) aside(h idHash) bool {
	if !ps.background || ps.ln.beside == nil {
		return false
	}
	_, ok := ps.ln.beside[h]
	return ok
}

// again reports whether customer h (entry e, if known) came before in
// this pass, and notes that it came. Beside a complete export in the
// background an incremental poll keeps this in here, for the entries'
// seen marks are the complete export's.
func (ps *pass) again(h idHash, e entry, known bool) bool {
	if ps.here == nil {
		return known && e.seen == ps.no
	}
	_, ok := ps.here[h]
	ps.here[h] = struct{}{}
	return ok
}
