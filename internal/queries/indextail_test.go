package queries

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIndexSealedPutsMerge: puts and deletes of new and known ids into a
// sealed index, enough to merge its tail into order many times, agree
// with a map at every step checked: Len, Page through everything in id
// order, and each customer's phone lookup.
func TestIndexSealedPutsMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	x := NewIndex()
	x.Put("seed", "5550000", "")
	x.Seal()
	want := map[string]string{"seed": "5550000"}
	for step := range 20_000 {
		id := fmt.Sprintf("cus_%04d", r.IntN(5000))
		if r.IntN(5) == 0 {
			x.Delete(id)
			delete(want, id)
		} else {
			phone := fmt.Sprintf("555%07d", r.IntN(1_000_000))
			x.Put(id, phone, "")
			want[id] = phone
		}
		if step%997 != 0 && step != 19_999 {
			continue
		}
		if got := x.Len(); got != len(want) {
			t.Fatalf("step %d: Len got %d, want %d", step, got, len(want))
		}
		var all []string
		for after, more := "", true; more; {
			var ids []string
			ids, more = x.Page(after, 333)
			all = append(all, ids...)
			if len(ids) > 0 {
				after = ids[len(ids)-1]
			}
		}
		if sorted := slices.Sorted(maps.Keys(want)); !slices.Equal(all, sorted) {
			t.Fatalf("step %d: pages got %d ids, want %d in id order", step, len(all), len(sorted))
		}
		for id, phone := range want {
			if !slices.Contains(x.ByPhone(phone), id) {
				t.Fatalf("step %d: ByPhone(%s) got %v, want it to hold %s", step, phone, x.ByPhone(phone), id)
			}
		}
	}
}

// BenchmarkIndexSealedPuts puts 200,000 new customers, in random id order,
// into a sealed index: what the queries' follower does while a first sync
// fills an empty model.
func BenchmarkIndexSealedPuts(b *testing.B) {
	ids := make([]string, 200_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		ids[i] = fmt.Sprintf("cus_%016x", r.Uint64())
	}
	for b.Loop() {
		x := NewIndex()
		x.Seal()
		for i, id := range ids {
			x.Put(id, fmt.Sprintf("+1555%07d", i), "")
		}
	}
}
