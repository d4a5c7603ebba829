package model

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/natstest"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"plain", "cus_123-ABC", "cus_123-ABC"},
		{"dot", "a.b", "=YS5i"},
		{"space", "a b", "=YSBi"},
		{"unicode", "ü", "=w7w"},
		{"equals", "=x", "=PXg"},
		{"empty", "", "="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.id); got != tt.want {
				t.Fatalf("Key(%q) = %q, want %q", tt.id, got, tt.want)
			}
			if tt.id == "" {
				return
			}
			got, err := ID(tt.want)
			if err != nil || got != tt.id {
				t.Fatalf("ID(%q) = %q, %v, want %q", tt.want, got, err, tt.id)
			}
		})
	}
}

func TestIDRefusesForeignKeys(t *testing.T) {
	for _, key := range []string{"", "=", "=YS5i=", "=Y2E", "a.b", "=!!"} {
		if id, err := ID(key); !errors.Is(err, ErrBadKey) {
			t.Errorf("ID(%q) = %q, %v, want ErrBadKey", key, id, err)
		}
	}
}

func TestStatusRoundTrip(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, status, err := Ensure(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatus(ctx, status)
	if err != nil || got.Filled {
		t.Fatalf("ReadStatus before any write = %+v, %v, want not filled", got, err)
	}
	want := Status{Filled: true, AsOf: time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)}
	if err := WriteStatus(ctx, status, want); err != nil {
		t.Fatal(err)
	}
	got, err = ReadStatus(ctx, status)
	if err != nil || got.Filled != want.Filled || !got.AsOf.Equal(want.AsOf) {
		t.Fatalf("ReadStatus = %+v, %v, want %+v", got, err, want)
	}
}

// TestEnsureAllowsBatches: Ensure sets allow_batched on the model's
// stream, a second Ensure (another process starting) keeps it, and an
// Ensure after a process that cleared it (a bridge before fast batches,
// which updated the bucket from its key-value configuration alone) sets
// it again.
func TestEnsureAllowsBatches(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	allowed := func(when string, want bool) {
		t.Helper()
		got, err := BatchAllowed(ctx, js)
		if err != nil || got != want {
			t.Fatalf("%s: BatchAllowed = %v, %v, want %v", when, got, err, want)
		}
	}
	if _, _, err := Ensure(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	allowed("after Ensure", true)
	s, err := js.Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	created := s.CachedInfo().Created
	if _, _, err := Ensure(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	allowed("after a second Ensure", true)
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, History: 1, Storage: jetstream.FileStorage, Replicas: 1,
	}); err != nil {
		t.Fatal(err)
	}
	allowed("after an update from the key-value configuration", false)
	if _, _, err := Ensure(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	allowed("after Ensure again", true)
	s, err = js.Stream(ctx, Stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo(); !got.Created.Equal(created) || got.Config.Description == "" || got.Config.MaxMsgsPerSubject != 1 {
		t.Errorf("the model's stream after Ensure: created %v (want %v), description %q, history %d: want the same stream, as Ensure makes it",
			got.Created, created, got.Config.Description, got.Config.MaxMsgsPerSubject)
	}
}
