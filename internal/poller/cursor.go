package poller

import (
	"context"
	"time"

	"github.com/gormic/crm-bridge/internal/lease"
)

// sinceText is a poll's updatedSince for the logs.
func sinceText(t time.Time) string {
	if t.IsZero() {
		return "everything"
	}
	return t.UTC().Format(time.RFC3339)
}

// saveCursor saves where the next poll starts: the greatest updatedAt of
// this pass if it was stable, else where this one started.
func (ps *pass) saveCursor(ctx context.Context) error {
	ln := ps.ln
	next := ps.nextCursor(ln.cur) // as saved now: a pass beside this one may have moved it
	if ps.shifted(next) {
		// Make the next poll a reconcile: it reads every record, and asks
		// the CRM about those it still does not see. One under way may
		// have read the skipped record's page already: another follows it.
		next.ReconciledAt = time.Time{}
		ln.forced = ln.beside != nil
		ps.p.log.Info("the cursor moved far in one poll; the next poll reads the complete export, in case a page shifted",
			"from", ps.cur.Since, "to", next.Since, "pages", ps.pages)
	}
	if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
		return lease.ErrLost
	}
	rev, err := ps.p.store.saveCursor(ctx, next, ln.rev)
	if err != nil {
		return err
	}
	ln.cur, ln.rev = next, rev
	ps.cur, ps.rev = next, rev
	return nil
}

// nextCursor is the cursor after this pass, from the saved one: since
// moved on to the greatest updatedAt of a stable pass, initialized after a
// stable first one, reconciledAt set by a complete export (unless an
// incremental poll beside it asked for another), and the events' mark.
func (ps *pass) nextCursor(next cursor) cursor {
	if !ps.unstable {
		if ps.maxAtRaw != "" {
			if t, err := time.Parse(time.RFC3339Nano, next.Since); err != nil || ps.maxAt.After(t) {
				next.Since = ps.maxAtRaw
			}
		}
		if !next.Initialized {
			next.Initialized = true
			ps.p.log.Info("poller recorded the existing customers", "customers", len(ps.x.m), "events", ps.events)
		}
	}
	if ps.full && !(ps.background && ps.ln.forced) {
		next.ReconciledAt = ps.start
	}
	next.EventSeq = max(next.EventSeq, ps.eventSeq)
	return next
}

// shifted reports whether the next poll, which reads from next.Since less
// the overlap, could miss a change this pass skipped without noticing: an
// export paged by offset shifts back by one when a customer already
// returned is deleted, and then skips a record while nobody comes twice.
// A change this pass did not publish is stamped at least at its starting
// cursor less the CRM's clock lag, so it is at risk when the cursor moved
// on by more than a quarter of the overlap (never less than two
// intervals), over several pages: after an outage, say. A complete export
// checks what it missed itself (reconcile), and a first start leaves what
// it skipped to the next reconcile.
func (ps *pass) shifted(next cursor) bool {
	if ps.full || ps.unstable || ps.pages < 2 || next.Since == ps.cur.Since {
		return false
	}
	from, err := time.Parse(time.RFC3339Nano, ps.cur.Since)
	return err == nil && ps.maxAt.Sub(from) > max(ps.p.cfg.Overlap/4, 2*ps.p.cfg.Interval)
}

// cursorRev is the cursor's revision as saved now, on which a chunk's
// write is conditional: the lane's, which a pass beside this one may have
// moved since this one began, when it has one.
func (ps *pass) cursorRev() uint64 {
	if ps.ln != nil {
		return ps.ln.rev
	}
	return ps.rev
}
