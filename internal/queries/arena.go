package queries

import (
	"encoding/binary"
	"math"
)

// arenaChunk is the size of an arena's chunks; a longer id has a chunk of
// its own.
const arenaChunk = 1 << 16

// arena holds the Index's ids, each as its length (uvarint) and its bytes,
// in chunks of arenaChunk bytes that are only appended to: an id's bytes
// never change once written. A ref names an id: its chunk (16 bits) and
// its offset in it (16 bits). Its zero value is empty.
type arena struct {
	chunks [][]byte
	// used is the bytes written, dead those of ids no longer named.
	used, dead int
}

// add writes id and returns its ref. It panics past 65,536 chunks (4 GiB
// of ids).
func (a *arena) add(id string) uint32 {
	n := binary.MaxVarintLen64 + len(id)
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+n > cap(a.chunks[last]) {
		if len(a.chunks) > math.MaxUint16 {
			panic("queries: more than 4 GiB of customer ids")
		}
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, n)))
		last++
	}
	c := a.chunks[last]
	off := len(c)
	c = binary.AppendUvarint(c, uint64(len(id)))
	c = append(c, id...)
	a.chunks[last] = c
	a.used += len(c) - off
	return uint32(last)<<16 | uint32(off)
}

// get returns the bytes of ref's id; the caller must not change them.
func (a *arena) get(ref uint32) []byte {
	c := a.chunks[ref>>16]
	off := int(ref & math.MaxUint16)
	l, k := binary.Uvarint(c[off:])
	return c[off+k : off+k+int(l)]
}

// drop counts ref's id as dead.
func (a *arena) drop(ref uint32) {
	id := a.get(ref)
	a.dead += len(id) + uvarintLen(len(id))
}

// wasteful reports whether more than half of the arena is dead (and at
// least a chunk): time to copy the live ids into a new one.
func (a *arena) wasteful() bool {
	return a.dead > arenaChunk && a.dead > a.used-a.dead
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// compareID compares an id's bytes with a string, as strings.Compare.
func compareID(b []byte, s string) int {
	n := min(len(b), len(s))
	for i := range n {
		if b[i] != s[i] {
			if b[i] < s[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(b) < len(s):
		return -1
	case len(b) > len(s):
		return 1
	}
	return 0
}
