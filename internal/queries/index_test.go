package queries

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
)

func TestIndexFollowsPutsAndDeletes(t *testing.T) {
	tests := []struct {
		name   string
		sealAt int // steps applied before Seal
	}{
		{name: "sealed first", sealAt: 0},
		{name: "loaded then sealed", sealAt: 99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := NewIndex()
			steps := []func(){
				func() { x.Put("c2", "555-0100", "Ada@Example.com") },
				func() { x.Put("c1", "5550101", "") },
				func() { x.Put("c3", "+1 555 0199", "x@y.z") },
				func() { x.Put("c2", "555 0102", "ada@new.example") }, // phone and email change
				func() { x.Delete("c3") },
				func() { x.Delete("c9") }, // never there
				func() { x.Put("c0", "5550101", "") },
			}
			for i, step := range steps {
				if i == tt.sealAt {
					x.Seal()
				}
				step()
			}
			x.Seal()
			check := func(what string, got, want []string) {
				t.Helper()
				if !slices.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", what, got, want)
				}
			}
			check("old phone", x.ByPhone("5550100"), nil)
			check("new phone", x.ByPhone("(555) 0102"), []string{"c2"})
			check("shared phone", x.ByPhone("5550101"), []string{"c0", "c1"})
			check("old email", x.ByEmail("ada@example.com"), nil)
			check("new email any case", x.ByEmail("ADA@new.example"), []string{"c2"})
			check("deleted", x.ByEmail("x@y.z"), nil)
			ids, more := x.Page("", 2)
			check("page 1", ids, []string{"c0", "c1"})
			if !more {
				t.Errorf("page 1: got more false, want true")
			}
			ids, more = x.Page("c1", 2)
			check("page 2", ids, []string{"c2"})
			if more {
				t.Errorf("page 2: got more true, want false")
			}
			ids, _ = x.Page("c0x", 5) // a cursor whose customer is gone
			check("page after a gone id", ids, []string{"c1", "c2"})
		})
	}
}

// TestIndexMemoryPerCustomer loads 100,000 customers and reports the heap
// the index takes per customer; docs/queries.md quotes it.
func TestIndexMemoryPerCustomer(t *testing.T) {
	const n = 100_000
	ids := make([]string, n) // made before measuring: the index clones them
	for i := range ids {
		ids[i] = fmt.Sprintf("cus_%016x", uint64(i)*0x9E3779B97F4A7C15)
	}
	before := heap()
	x := NewIndex()
	for i, id := range ids {
		x.Put(id, fmt.Sprintf("+1 555 %07d", i), fmt.Sprintf("user%d@example.com", i))
	}
	x.Seal()
	after := heap()
	per := float64(after-before) / n
	t.Logf("index: %.0f bytes per customer (ids of %d bytes, with phone and email)", per, len(ids[0]))
	if per > 70 {
		t.Errorf("got %.0f bytes per customer, want at most 70", per)
	}
	runtime.KeepAlive(x)
	runtime.KeepAlive(ids)
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkIndexByPhone1M looks a phone up among 1M customers: the index
// part of the create lookup (the rest is one model read per match).
func BenchmarkIndexByPhone1M(b *testing.B) {
	const n = 1_000_000
	x := NewIndex()
	for i := range n {
		x.Put(fmt.Sprintf("cus_%016x", uint64(i)*0x9E3779B97F4A7C15), fmt.Sprintf("+1 555 %07d", i), fmt.Sprintf("user%d@example.com", i))
	}
	x.Seal()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Among a million phones a few pairs share a 32-bit hash: the
		// customer is among the ids, with at most one other.
		id := fmt.Sprintf("cus_%016x", uint64(i%n)*0x9E3779B97F4A7C15)
		if ids := x.ByPhone(fmt.Sprintf("1555%07d", i%n)); !slices.Contains(ids, id) || len(ids) > 2 {
			b.Fatalf("got %q, want %s (and perhaps one other sharing its hash)", ids, id)
		}
	}
}
