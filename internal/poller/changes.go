package poller

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/gormic/crm-bridge/internal/crm"
)

// change is one customer whose record differs from its saved one.
type change struct {
	id     string
	h      idHash
	raw    json.RawMessage // nil: gone
	digest uint64
	known  bool
	chunk  chunkAt // the chunk of its saved record, if in one
	// silent records the customer without an event: one seen first at a
	// first start, too large for a chunk.
	silent bool
	// fixModel rewrites the customer's read model entry even when its
	// record is the saved one: a complete export found the entry wrong.
	fixModel bool
}

// sorting is one page being sorted into changes.
type sorting struct {
	// bulk is set at a first start without initial events: new customers
	// are recorded in chunks, and their model entries written, at once.
	bulk   bool
	work   []change
	chunks chunkWriter
	models modelBatch
}

// page handles one page of the export: it sorts the records into changes,
// writes the read model entries and chunks of a first start's customers,
// then applies the changes.
func (ps *pass) page(ctx context.Context, items []crm.Customer) error {
	p := ps.p
	// A customer of a round still being written comes again: the rounds
	// end first, so that this page sees what they saved.
	if len(ps.tails) > 0 && slices.ContainsFunc(items, func(c crm.Customer) bool { return ps.tails.has(ps.x.hash(c.ID)) }) {
		if err := ps.settle(ctx); err != nil {
			return err
		}
	}
	srt := sorting{bulk: !ps.cur.Initialized && !p.cfg.InitialEvents, chunks: ps.newChunkWriter()}
	detected := p.cfg.Now()
	p.metrics.pages.Inc()
	p.metrics.records.Add(float64(len(items)))
	ps.mu.Lock()
	ps.pages++
	ps.records += len(items)
	ps.mu.Unlock()
	for i := range items {
		if err := ps.sort(&srt, &items[i]); err != nil {
			return err
		}
	}
	if err := srt.models.send(ps.p); err != nil {
		srt.chunks.discard(ps)
		return err
	}
	if srt.bulk {
		return ps.bulk.push(ctx, ps, srt.models, srt.chunks, srt.work, detected)
	}
	// The read model first, then the state that records the same
	// customers.
	if err := srt.models.wait(ctx, ps.p); err != nil {
		srt.chunks.discard(ps)
		return err
	}
	if err := srt.chunks.flush(ps); err != nil {
		return err
	}
	errApply := ps.applyAll(ctx, srt.work, detected)
	if err := srt.chunks.wait(ctx, ps); err != nil {
		return err
	}
	return errApply
}

// sort sorts one record: the same as saved (nothing to do but, for a
// complete export, repair its read model entry), a first start's customer
// to record in bulk, or a change.
func (ps *pass) sort(srt *sorting, c *crm.Customer) error {
	d, err := wholeDigest(c.Raw)
	if err != nil {
		ps.skip(c.ID, err)
		return nil
	}
	ps.observe(c.ID, c.UpdatedAt)
	h := ps.x.hash(c.ID)
	if ps.aside(h) {
		return nil
	}
	e, known := ps.x.m[h]
	if ps.again(h, e, known) {
		ps.unstable = true
	}
	switch {
	case known && e.digest == d:
		if ps.full && e.seen != ps.no && e.seen != ps.no|modelOK {
			if err := srt.models.put(ps, c.ID, c.Raw); err != nil {
				return err
			}
		}
		ps.seen(h, e)
		return nil
	case !known && srt.bulk:
		return ps.bulkNew(srt, c, h, d)
	case known:
		ps.seen(h, e)
	}
	srt.work = append(srt.work, change{id: c.ID, h: h, raw: c.Raw, digest: d, known: known, chunk: ps.x.chunkAt(e)})
	return nil
}

// bulkNew records a first start's new customer c (h, digest d) in a
// chunk, its read model entry written first; or, too large for a chunk,
// as a change recorded silently.
func (ps *pass) bulkNew(srt *sorting, c *crm.Customer, h idHash, d uint64) error {
	if len(c.Raw) > srt.chunks.limit {
		srt.work = append(srt.work, change{id: c.ID, h: h, raw: c.Raw, digest: d, silent: true})
		return nil
	}
	if err := srt.models.put(ps, c.ID, c.Raw); err != nil {
		return err
	}
	srt.chunks.add(ps, chunkRecord{id: c.ID, digest: d, raw: c.Raw}, h)
	return nil
}

// seen marks customer h (entry e) seen by the pass, unless the marks are
// a complete export's in the background (again).
func (ps *pass) seen(h idHash, e entry) {
	if ps.here == nil {
		e.seen = ps.no
		ps.x.m[h] = e
	}
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
