package model

import (
	"context"
	"errors"
	"testing"
	"time"

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
