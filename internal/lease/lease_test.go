package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// TestLeases shows the lease rules the partitions rely on: one holder at a
// time, renewal by compare-and-set, expiry after the TTL, and a holder
// that finds its lease taken (or expired) loses it for good.
func TestLeases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.Server(t))
	const ttl = 2 * time.Second
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "leases_test", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	a := &Leases{KV: kv, Owner: "a", TTL: ttl}
	b := &Leases{KV: kv, Owner: "b", TTL: ttl}

	la, err := a.Acquire(ctx, "p.1")
	if err != nil || la == nil {
		t.Fatalf("a acquires: got %v, %v", la, err)
	}
	if !la.Valid(time.Second) {
		t.Error("a fresh lease is not valid for 1s of a 2s TTL")
	}
	if la.Valid(ttl) {
		t.Error("a lease is valid for its whole TTL after the time its write took")
	}
	if lb, err := b.Acquire(ctx, "p.1"); err != nil || lb != nil {
		t.Fatalf("b acquires a held lease: got %v, %v; want nil, nil", lb, err)
	}
	if err := a.Renew(ctx, la); err != nil {
		t.Fatalf("a renews: %v", err)
	}

	// a stops renewing: the entry expires and b takes it.
	var lb *Lease
	eventually.True(t, 10*time.Second, "b never took the expired lease", func() bool {
		lb, err = b.Acquire(ctx, "p.1")
		return err == nil && lb != nil
	})
	if la.Valid(0) {
		t.Error("a's lease is still valid after it expired")
	}
	if err := a.Renew(ctx, la); !errors.Is(err, ErrLost) {
		t.Errorf("a renews a lease b holds: got %v, want ErrLost", err)
	}
	if err := a.Renew(ctx, la); !errors.Is(err, ErrLost) {
		t.Errorf("a renews again: got %v, want ErrLost for good", err)
	}

	// A release hands it over at once.
	if err := b.Release(ctx, lb); err != nil {
		t.Fatal(err)
	}
	if lc, err := a.Acquire(ctx, "p.1"); err != nil || lc == nil {
		t.Errorf("a acquires a released lease: got %v, %v", lc, err)
	}
}

// A renewal that the server applied but whose answer was lost leaves the
// holder with an old revision; releasing still gives the lease up.
func TestReleaseAfterALostRenewal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.Server(t))
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "leases_test", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	a := &Leases{KV: kv, Owner: "a", TTL: time.Minute}
	la, err := a.Acquire(ctx, "p.1")
	if err != nil || la == nil {
		t.Fatalf("acquire: %v %v", la, err)
	}
	if _, err := kv.Put(ctx, "p.1", []byte("a")); err != nil { // the renewal the holder never heard of
		t.Fatal(err)
	}
	if err := a.Release(ctx, la); err != nil {
		t.Fatalf("release: %v", err)
	}
	b := &Leases{KV: kv, Owner: "b", TTL: time.Minute}
	if lb, err := b.Acquire(ctx, "p.1"); err != nil || lb == nil {
		t.Errorf("after the release, b cannot take the lease: %v %v", lb, err)
	}
}
