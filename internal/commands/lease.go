package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leases are claims on a name, kept in a JetStream key-value bucket whose
// entries expire TTL after their last write: a process that dies loses its
// leases without a word, and another can take them TTL later. A process
// keeps a lease by renewing it (a compare-and-set on the revision it last
// wrote) and must stop acting on it once it may have expired: see
// lease.valid.
type leases struct {
	kv    jetstream.KeyValue
	owner string
	ttl   time.Duration
}

// lease is one held claim. Its methods are safe for concurrent use.
type lease struct {
	key string
	ttl time.Duration

	mu      sync.Mutex
	rev     uint64
	renewed time.Time // when the write that set rev was sent
	lost    bool
}

// errLeaseLost is returned for a lease that someone else now holds, or
// that expired.
var errLeaseLost = errors.New("lease lost")

// acquire claims key; it returns nil, nil when another process holds it.
func (l *leases) acquire(ctx context.Context, key string) (*lease, error) {
	sent := time.Now()
	rev, err := l.kv.Create(ctx, key, []byte(l.owner))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	return &lease{key: key, ttl: l.ttl, rev: rev, renewed: sent}, nil
}

// renew extends ls. It returns errLeaseLost (and marks ls lost) when ls
// was taken over or expired; other errors leave ls as it was, valid until
// its time is up.
func (l *leases) renew(ctx context.Context, ls *lease) error {
	ls.mu.Lock()
	rev, lost := ls.rev, ls.lost
	ls.mu.Unlock()
	if lost {
		return errLeaseLost
	}
	sent := time.Now()
	next, err := l.kv.Update(ctx, ls.key, []byte(l.owner), rev)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	switch {
	case err == nil:
		ls.rev, ls.renewed = next, sent
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		// The revision moved (someone else holds it) or the entry expired.
		ls.lost = true
		return errLeaseLost
	case time.Since(ls.renewed) > ls.ttl:
		ls.lost = true
		return fmt.Errorf("%w: not renewed for %v: %v", errLeaseLost, ls.ttl, err)
	}
	return fmt.Errorf("renew lease %s: %w", ls.key, err)
}

// release gives ls up, so another process may take it at once.
func (l *leases) release(ctx context.Context, ls *lease) error {
	ls.mu.Lock()
	rev, lost := ls.rev, ls.lost
	ls.lost = true
	ls.mu.Unlock()
	if lost {
		return nil
	}
	if err := l.kv.Delete(ctx, ls.key, jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("release lease %s: %w", ls.key, err)
	}
	return nil
}

// valid reports whether ls is certainly still held for at least d more:
// its last renewal, counted from when it was sent, plus the TTL, less d.
// An action that takes up to d (a CRM call with its timeout) may start
// only while valid(d) holds; then nobody else can hold the lease before
// the action ends.
func (ls *lease) valid(d time.Duration) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return !ls.lost && time.Since(ls.renewed)+d < ls.ttl
}
