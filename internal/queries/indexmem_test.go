package queries

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkIndexMemory builds an index of 1M customers (ids of 20
// bytes in random order, each with a phone and an email) and reports the
// heap it takes per customer (bytes/customer, live heap after a GC) and
// the time to build it: "loaded" as a process start indexes a filled
// model (Put in any order, then Seal), "sealed" as a first start fills
// an empty model under a running index (every Put an insert in id order).
// docs/queries.md quotes it.
func BenchmarkIndexMemory(b *testing.B) {
	const n = 1_000_000
	ids := make([]string, n) // made before measuring: the index copies them
	for i := range ids {
		ids[i] = fmt.Sprintf("cus_%016x", uint64(i)*0x9E3779B97F4A7C15)
	}
	for _, mode := range []string{"loaded", "sealed"} {
		b.Run(mode, func(b *testing.B) {
			var per float64
			for b.Loop() {
				before := heap()
				x := NewIndex()
				if mode == "sealed" {
					x.Seal()
				}
				for i, id := range ids {
					x.Put(id, fmt.Sprintf("+1 555 %07d", i), fmt.Sprintf("user%d@example.com", i))
				}
				x.Seal()
				per = float64(heap()-before) / n
				runtime.KeepAlive(x)
			}
			b.ReportMetric(per, "bytes/customer")
		})
	}
}
