// Package lease keeps claims on names in a JetStream key-value bucket, so
// that among several bridge processes one at a time acts on a thing: a
// partition of the commands, or the change poller.
package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases are claims on names, kept in a JetStream key-value bucket whose
// entries expire TTL after their last write: a process that dies loses its
// leases without a word, and another can take them TTL later. A process
// keeps a lease by renewing it (a compare-and-set on the revision it last
// wrote) and must stop acting on it once it may have expired: see
// Lease.Valid.
type Leases struct {
	// KV is the bucket; its TTL must be TTL.
	KV jetstream.KeyValue
	// Owner is written as the value of each lease this process holds.
	Owner string
	// TTL is how long a lease outlives its last renewal.
	TTL time.Duration
}

// Lease is one held claim. Its methods are safe for concurrent use.
type Lease struct {
	key string
	ttl time.Duration

	mu      sync.Mutex
	rev     uint64
	renewed time.Time // when the write that set rev was sent
	lost    bool
}

// ErrLost is returned for a lease that someone else now holds, or
// that expired.
var ErrLost = errors.New("lease lost")

// Acquire claims key; it returns nil, nil when another process holds it.
func (l *Leases) Acquire(ctx context.Context, key string) (*Lease, error) {
	sent := time.Now()
	rev, err := l.KV.Create(ctx, key, []byte(l.Owner))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	return &Lease{key: key, ttl: l.TTL, rev: rev, renewed: sent}, nil
}

// renew extends ls. It returns ErrLost (and marks ls lost) when ls
// was taken over or expired; other errors leave ls as it was, valid until
// its time is up.
func (l *Leases) Renew(ctx context.Context, ls *Lease) error {
	ls.mu.Lock()
	rev, lost := ls.rev, ls.lost
	ls.mu.Unlock()
	if lost {
		return ErrLost
	}
	sent := time.Now()
	next, err := l.KV.Update(ctx, ls.key, []byte(l.Owner), rev)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	switch {
	case err == nil:
		ls.rev, ls.renewed = next, sent
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		// The revision moved (someone else holds it) or the entry expired.
		ls.lost = true
		return ErrLost
	case time.Since(ls.renewed) > ls.ttl:
		ls.lost = true
		return fmt.Errorf("%w: not renewed for %v: %v", ErrLost, ls.ttl, err)
	}
	return fmt.Errorf("renew lease %s: %w", ls.key, err)
}

// Release gives ls up, so another process may take it at once.
func (l *Leases) Release(ctx context.Context, ls *Lease) error {
	ls.mu.Lock()
	rev, lost := ls.rev, ls.lost
	ls.lost = true
	ls.mu.Unlock()
	if lost {
		return nil
	}
	err := l.KV.Delete(ctx, ls.key, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// A renewal that the server applied but whose answer never came
		// (its context ended) moved the revision on; if the lease is still
		// ours, release it at the revision it has now.
		if e, gerr := l.KV.Get(ctx, ls.key); gerr == nil && string(e.Value()) == l.Owner {
			err = l.KV.Delete(ctx, ls.key, jetstream.LastRevision(e.Revision()))
		}
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("release lease %s: %w", ls.key, err)
	}
	return nil
}

// Valid reports whether ls is certainly still held for at least d more:
// its last renewal, counted from when it was sent, plus the TTL, less d.
// An action that takes up to d (a CRM call with its timeout) may start
// only while Valid(d) holds; then nobody else can hold the lease before
// the action ends.
func (ls *Lease) Valid(d time.Duration) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return !ls.lost && time.Since(ls.renewed)+d < ls.ttl
}

// Bucket returns the key-value bucket name for leases of ttl, creating it,
// or updating it when its TTL or replicas differ.
func Bucket(ctx context.Context, js jetstream.JetStream, name, description string, ttl time.Duration, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if err == nil {
		st, serr := kv.Status(ctx)
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); serr == nil && ok && bs.TTL() == ttl && bs.StreamInfo().Config.Replicas == replicas {
			return kv, nil
		}
	}
	kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      name,
		Description: description,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", name, err)
	}
	return kv, nil
}
