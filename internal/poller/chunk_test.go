package poller

import (
	"bytes"
	"fmt"
	"testing"
)

// TestChunkRecordsOutliveTheChunk: the saved states taken from a chunk
// keep their records after readChunk has given its decompressed array to
// the next chunks, and every version reads back what was written.
func TestChunkRecordsOutliveTheChunk(t *testing.T) {
	var scratch []byte
	chunk := func(n int, v byte) ([]byte, []chunkRecord) {
		var b []byte
		var rs []chunkRecord
		for i := range 50 {
			r := chunkRecord{id: fmt.Sprintf("cus_%d_%d", n, i), digest: uint64(n*100 + i), eventSeq: uint64(i + 1),
				raw: fmt.Appendf(nil, `{"id":"cus_%d_%d","note":%q}`, n, i, bytes.Repeat([]byte{byte('a' + n)}, 200))}
			b = appendChunk(b, r)
			rs = append(rs, r)
		}
		if v != chunkPlain {
			b = sealChunk(b, v, &scratch)
		}
		return b, rs
	}
	var kept []saved
	var want []chunkRecord
	for n, v := range []byte{chunkS2, chunkLater, chunkS2, chunkPlain, chunkS2} {
		b, rs := chunk(n, v)
		i := 0
		if err := readChunk(b, func(r chunkRecord) bool {
			if r.id != rs[i].id || r.digest != rs[i].digest || r.eventSeq != rs[i].eventSeq || !bytes.Equal(r.raw, rs[i].raw) {
				t.Errorf("chunk %d (version %d), record %d: got %+v, want %+v", n, v, i, r, rs[i])
			}
			i++
			kept = append(kept, r.saved())
			return true
		}); err != nil || i != len(rs) {
			t.Fatalf("chunk %d: read %d records, %v; want %d", n, i, err, len(rs))
		}
		want = append(want, rs...)
	}
	for i, sv := range kept {
		if !bytes.Equal(sv.record, want[i].raw) || sv.digest != want[i].digest || sv.eventSeq != want[i].eventSeq {
			t.Fatalf("saved %d (%s): record %s, want %s", i, want[i].id, sv.record, want[i].raw)
		}
	}
}
