package poller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
)

// legacyStateBucket is the key-value bucket that held the poller's state
// before StateStream, with the same keys (cursor, c.<id key>, b.<nuid>)
// and headers, but for delete markers (KV-Operation: DEL). A poller that
// becomes active and finds no cursor in StateStream copies it there
// (migrate), and leaves the bucket as it is: a bridge of the former
// version that takes the lease later goes on from it.
const legacyStateBucket = "crm_bridge_poller"

// migrateBatch is how many copied entries migrate leaves unacknowledged
// at most.
const migrateBatch = 256

// migrate copies the state from legacyStateBucket into StateStream when
// StateStream has no cursor and the bucket has one. It copies every
// customer's entry and every chunk, in the bucket's order, each
// conditional on StateStream having no cursor yet, and then the cursor:
// the cursor's presence says the copy is complete. A migration cut short
// (a crash, a lost lease) leaves no cursor, and the next active poller
// copies everything again over what is there (one message per subject);
// a copy still under way in a poller that lost its lease is refused once
// the next one wrote the cursor (errFenced). It returns the number of
// entries copied, 0 when there was nothing to migrate.
func (p *Poller) migrate(ctx context.Context, ls *lease.Lease) (int, error) {
	s := p.store
	if _, rev, err := s.cursor(ctx); err != nil || rev != 0 {
		return 0, err
	}
	old, err := p.js.Stream(ctx, legacyStateStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		// A timeout here is most often a NATS user without access to the
		// former bucket: say what it needs.
		return 0, fmt.Errorf("poller: migrate the state: look for the former bucket %s (the bridge's NATS user needs "+
			"$JS.API.*.*.%s until the migration ran, see deploy/nats/permissions.conf): %w", legacyStateBucket, legacyStateStream, err)
	}
	cur, err := lastMsg(ctx, old, legacyPrefix+cursorKey)
	if err != nil {
		return 0, fmt.Errorf("poller: migrate the state: cursor: %w", err)
	}
	if cur == nil || cur.Header.Get(kvOperation) != "" {
		return 0, nil // nothing saved, or the cursor deleted: a first start
	}
	start := time.Now()
	p.log.Info("poller migrating its state from the key-value bucket to the stream",
		"bucket", legacyStateBucket, "stream", StateStream, "messages", old.CachedInfo().State.Msgs)
	n, err := p.copyLegacy(ctx, ls)
	if err != nil {
		return n, err
	}
	if !ls.Valid(p.cfg.LeaseTTL / 4) {
		return n, lease.ErrLost
	}
	// The cursor as it was, owner included: claiming it (poll) comes next.
	if _, err := s.js.Publish(ctx, s.subjects+cursorKey, cur.Data, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		if isWrongLast(err) {
			return n, errFenced
		}
		return n, fmt.Errorf("poller: migrate the state: cursor: %w", err)
	}
	p.log.Info("poller state migrated; the key-value bucket is no longer read or written by this version, "+
		"and can be deleted once every bridge process runs it",
		"bucket", legacyStateBucket, "stream", StateStream, "entries", n+1, "took", time.Since(start).Round(time.Millisecond))
	return n + 1, nil
}

// copyLegacy copies every customer entry and chunk of legacyStateBucket
// into StateStream, conditional on StateStream having no cursor, and
// returns how many it copied.
func (p *Poller) copyLegacy(ctx context.Context, ls *lease.Lease) (int, error) {
	s := p.store
	var (
		n       int
		pending []jetstream.PubAckFuture
	)
	settle := func() error {
		for _, f := range pending {
			_, err := await(ctx, f)
			switch {
			case isWrongLast(err):
				return errFenced
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				return fmt.Errorf("poller: migrate the state: %s: %w", f.Msg().Subject, err)
			}
		}
		pending = pending[:0]
		return nil
	}
	err := scanLast(ctx, p.js, legacyStateStream, legacyPrefix, ">", false, func(key string, m jetstream.Msg) error {
		if !strings.HasPrefix(key, "c.") && !strings.HasPrefix(key, "b.") {
			return nil // the cursor, last; nothing else was ever written
		}
		if len(pending) == 0 && !ls.Valid(p.cfg.LeaseTTL/4) {
			return lease.ErrLost
		}
		f, err := s.js.PublishMsgAsync(legacyCopy(s.subjects+key, m),
			jetstream.WithExpectLastSequenceForSubject(0, s.subjects+cursorKey))
		if err != nil {
			return fmt.Errorf("poller: migrate the state: %s: %w", key, err)
		}
		pending = append(pending, f)
		n++
		if p.afterMigrated != nil {
			if err := p.afterMigrated(n); err != nil {
				return err
			}
		}
		if len(pending) >= migrateBatch {
			return settle()
		}
		return nil
	})
	if err == nil {
		err = settle()
	}
	return n, err
}

// legacyCopy returns the message that holds in StateStream, on subject,
// what m held in legacyStateBucket: the same body and headers, but for a
// delete marker (KV-Operation), which becomes Poller-Deleted.
func legacyCopy(subject string, m jetstream.Msg) *nats.Msg {
	out := nats.NewMsg(subject)
	h := m.Headers()
	for _, k := range []string{hdrDigest, hdrEventSeq, hdrOversized} {
		if v := h.Get(k); v != "" {
			out.Header.Set(k, v)
		}
	}
	if h.Get(kvOperation) != "" {
		out.Header.Set(hdrDeleted, "true")
		out.Header.Del(hdrDigest)
		out.Header.Del(hdrOversized)
		return out
	}
	out.Data = m.Data()
	return out
}
