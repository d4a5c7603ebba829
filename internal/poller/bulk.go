package poller

import (
	"context"
	"time"
)

// bulkDepth is how many pages of a first start's bulk recording may be in
// flight at once: their read model puts or their chunks not yet
// acknowledged.
const bulkDepth = 3

// bulkPendingPuts bounds the read model puts of two pages in flight at
// once: half of what nats.go lets one connection have pending by default
// (4,000), past which a publish stalls and then fails. A page with more
// puts than that waits for them before the next page is read, as a page
// did before the pipeline.
const bulkPendingPuts = 2000

// bulkPipe pipelines a first start's pages (page's bulk path): while the
// server stores page n's read model entries, the poller already reads page
// n+1, and page n's chunks follow once those entries are acknowledged.
// The order of one page's writes is page's: its read model entries, all
// acknowledged, before its chunks are published, so the model is never
// behind the state; the customers of a chunk enter the index once the
// chunk is acknowledged. At most bulkDepth pages are in flight; at most
// two pages' read model puts (the newest, and the one before it until the
// newest is handed over).
//
// Whatever a failed pass leaves (abandon) is taken out of the index as
// page takes it out: the next pass sees those customers as new again.
type bulkPipe struct {
	pages []*bulkPage
}

// bulkPage is one page's writes in flight.
type bulkPage struct {
	models  modelBatch
	chunks  chunkWriter
	flushed bool // models acknowledged, chunks published
}

// push takes over a page's writes, models already published, and moves
// the pipeline on. Changes of the page that are not recorded in bulk
// (work) are applied once every page before, and this one, is recorded:
// their index entries then name the chunks that hold their saved records.
func (q *bulkPipe) push(ctx context.Context, ps *pass, models modelBatch, chunks chunkWriter, work []change, detected time.Time) error {
	q.pages = append(q.pages, &bulkPage{models: models, chunks: chunks})
	if len(work) == 0 {
		return q.advance(ctx, ps)
	}
	if err := q.drain(ctx, ps); err != nil {
		return err
	}
	for i := range work {
		if known, chunk := ps.x.saved(work[i].h); known && work[i].known {
			work[i].chunk = chunk
		}
	}
	return ps.applyAll(ctx, work, detected)
}

// advance publishes the chunks of every page but the newest (and of the
// newest too when its puts are more than half of bulkPendingPuts), once
// their read model puts are acknowledged, and waits for the oldest pages'
// chunks while more than bulkDepth pages are in flight.
func (q *bulkPipe) advance(ctx context.Context, ps *pass) error {
	upTo := len(q.pages) - 1
	if q.pages[upTo].models.len() > bulkPendingPuts/2 {
		upTo++
	}
	for _, bp := range q.pages[:upTo] {
		if err := bp.flush(ctx, ps); err != nil {
			q.abandon(ctx, ps)
			return err
		}
	}
	for len(q.pages) > bulkDepth {
		if err := q.finishOldest(ctx, ps); err != nil {
			return err
		}
	}
	return nil
}

// drain records every page in flight, in order.
func (q *bulkPipe) drain(ctx context.Context, ps *pass) error {
	for len(q.pages) > 0 {
		if err := q.finishOldest(ctx, ps); err != nil {
			return err
		}
	}
	return nil
}

// finishOldest records the oldest page: its read model acknowledged, its
// chunks published and acknowledged. On failure it abandons the rest.
func (q *bulkPipe) finishOldest(ctx context.Context, ps *pass) error {
	bp := q.pages[0]
	err := bp.flush(ctx, ps)
	if err == nil {
		q.pages = q.pages[1:]
		err = bp.chunks.wait(ctx, ps)
	}
	if err != nil {
		q.abandon(ctx, ps)
	}
	return err
}

// abandon ends the pipeline after a failure: chunks published are waited
// for (their customers enter the index if they were stored), the others
// are discarded.
func (q *bulkPipe) abandon(ctx context.Context, ps *pass) {
	for _, bp := range q.pages {
		if bp.flushed {
			_ = bp.chunks.wait(ctx, ps)
		} else {
			bp.chunks.discard(ps)
		}
	}
	q.pages = nil
}

// flush waits for the page's read model puts and then publishes its
// chunks; a page already flushed is left as it is. On failure the page's
// chunks not yet published are discarded (those published stay pending,
// for wait).
func (bp *bulkPage) flush(ctx context.Context, ps *pass) error {
	if bp.flushed {
		return nil
	}
	if err := bp.models.wait(ctx, ps.p); err != nil {
		bp.chunks.discard(ps)
		return err
	}
	bp.flushed = true
	return bp.chunks.flush(ps)
}
