package queries

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// reference is what an Index must answer: the last phone and email put
// for each id not deleted since.
type reference map[string][2]string

// check compares every answer of x with ref's: the whole list in pages of
// limit, and a lookup of each phone and email ref holds (and of one
// nobody has). hash is x's hash of phone keys and emails: ids sharing it
// are answered too.
func (ref reference) check(t *testing.T, x *Index, hash func(string) uint32, limit int) {
	t.Helper()
	want := slices.Sorted(maps.Keys(ref))
	var got []string
	after := ""
	for {
		ids, more := x.Page(after, limit)
		got = append(got, ids...)
		if !more {
			break
		}
		if len(ids) == 0 {
			t.Fatalf("Page(%q, %d): no ids, and more", after, limit)
		}
		after = ids[len(ids)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages of %d: got %d ids, want %d (first difference at %d)", limit, len(got), len(want), firstDiff(got, want))
	}
	if x.Len() != len(want) {
		t.Errorf("Len: got %d, want %d", x.Len(), len(want))
	}
	// The ids of each phone and email hash, in id order.
	group := func(which int, key func(string) string) map[uint32][]string {
		g := map[uint32][]string{}
		for _, id := range want {
			if h := hash(key(ref[id][which])); h != 0 {
				g[h] = append(g[h], id)
			}
		}
		return g
	}
	phones, emails := group(0, PhoneKey), group(1, EmailKey)
	sharing := func(which int, key func(string) string, v string) []string {
		if which == 0 {
			return phones[hash(key(v))]
		}
		return emails[hash(key(v))]
	}
	for i, id := range want {
		if i%17 != 0 { // a sample: a lookup of a colliding hash answers thousands
			continue
		}
		c := ref[id]
		if got, want := x.ByPhone(c[0]), sharing(0, PhoneKey, c[0]); PhoneKey(c[0]) != "" && !slices.Equal(got, want) {
			t.Fatalf("ByPhone(%q): got %q, want %q", c[0], got, want)
		}
		if got, want := x.ByEmail(c[1]), sharing(1, EmailKey, c[1]); c[1] != "" && !slices.Equal(got, want) {
			t.Fatalf("ByEmail(%q): got %q, want %q", c[1], got, want)
		}
	}
	if got, want := x.ByPhone("999-999-999"), sharing(0, PhoneKey, "999-999-999"); !slices.Equal(got, want) {
		t.Fatalf("ByPhone of a phone nobody has: got %q, want %q", got, want)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// oddIDs are ids an Index must keep apart and in byte order: prefixes of
// each other, bytes above 0x7f, separators, one longer than an arena
// chunk.
var oddIDs = []string{
	"a", "a.b", "a%2eb", "a b", "a\x00", "a\xff", "ab", "é", "日本", "cus_ÄÖÜ", "Z", "0",
	strings.Repeat("x", arenaChunk+10), strings.Repeat("x", arenaChunk+9), "-", "_", "~",
}

// TestIndexAgainstReference applies random puts (new customers, changed
// phones and emails, none), deletes and re-creations to an Index and to a
// reference, sealing at different points, and compares every answer;
// with a hash that makes most phones and emails collide, and with the
// real one. Enough customers for the blocks to split and merge, and for
// the arena to be compacted.
func TestIndexAgainstReference(t *testing.T) {
	tests := []struct {
		name   string
		hash   func(string) uint32 // nil: NewIndex's
		sealAt int                 // operations applied while loading
	}{
		{name: "real hash, loaded", sealAt: 3000},
		{name: "real hash, sealed first", sealAt: 0},
		{name: "colliding hash, loaded", hash: func(s string) uint32 { return uint32(len(s) % 3) }, sealAt: 3000},
		{name: "colliding hash, sealed first", hash: func(s string) uint32 { return uint32(s[len(s)-1] % 5) }, sealAt: 0},
		{name: "colliding hash, sealed late", hash: func(s string) uint32 { return uint32(s[len(s)-1] % 5) }, sealAt: 9000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.sealAt)))
			x := NewIndex()
			hash := func(s string) uint32 { return x.hash(s) }
			if tt.hash != nil {
				x = newIndex(tt.hash)
			}
			ids := slices.Clone(oddIDs)
			for i := range 4000 {
				ids = append(ids, fmt.Sprintf("cus_%08x", rng.Uint32()>>uint(i%7)))
			}
			ref := reference{}
			contact := func() [2]string {
				var c [2]string
				if rng.IntN(8) > 0 {
					c[0] = fmt.Sprintf("+1 (555) %03d-%d", rng.IntN(1000), rng.IntN(3))
				}
				if rng.IntN(8) > 0 {
					c[1] = fmt.Sprintf("User%d@Example.COM", rng.IntN(2000))
				}
				return c
			}
			const ops = 12000
			for i := range ops {
				if i == tt.sealAt {
					x.Seal()
				}
				id := ids[rng.IntN(len(ids))]
				switch r := rng.IntN(10); {
				case r < 7 || i < 3000:
					c := contact()
					x.Put(id, c[0], c[1])
					ref[id] = c
				default:
					x.Delete(id)
					delete(ref, id)
				}
				if x.Sealed() && i%3000 == 2999 {
					ref.check(t, x, hash, 1+rng.IntN(700))
				}
			}
			// Delete most, so that blocks merge and the arena is
			// compacted, then check again.
			for _, id := range slices.Sorted(maps.Keys(ref)) {
				if rng.IntN(10) > 0 {
					x.Delete(id)
					delete(ref, id)
				}
			}
			ref.check(t, x, hash, 100)
			if x.ids.wasteful() {
				t.Errorf("arena: %d bytes dead of %d: got no compaction, want one", x.ids.dead, x.ids.used)
			}
		})
	}
}

// TestBlocksKeepOrder inserts and deletes random values in a blocks and
// in a sorted slice, checking they agree and that no block exceeds its
// size or is left empty.
func TestBlocksKeepOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	var l blocks[uint64]
	var want []uint64
	l.fill([]uint64{10, 20, 30})
	want = append(want, 10, 20, 30)
	for i := range 20000 {
		v := uint64(rng.IntN(5000))
		if i > 12000 {
			v = uint64(i) // ascending: appends after full blocks
		}
		p, found := l.seek(func(x uint64) int { return cmp.Compare(x, v) })
		j, wfound := slices.BinarySearch(want, v)
		if found != wfound {
			t.Fatalf("seek(%d): got found %v, want %v", v, found, wfound)
		}
		if found && rng.IntN(3) > 0 || i > 18000 && found {
			l.delete(p)
			want = slices.Delete(want, j, j+1)
		} else if !found {
			l.insert(p, v)
			want = slices.Insert(want, j, v)
		}
	}
	var got []uint64
	l.each(at{}, func(v uint64) bool { got = append(got, v); return true })
	if !slices.Equal(got, want) || l.len() != len(want) {
		t.Fatalf("got %d values (len %d), want %d; equal: %v", len(got), l.len(), len(want), slices.Equal(got, want))
	}
	for i, b := range l.b {
		if len(b) == 0 || len(b) > blockSize || cap(b) != blockSize {
			t.Errorf("block %d: len %d cap %d, want 1 to %d, cap %d", i, len(b), cap(b), blockSize, blockSize)
		}
	}
}

// TestIndexCompactsIDs deletes most customers and checks the arena keeps
// only the live ids, and the answers stay right.
func TestIndexCompactsIDs(t *testing.T) {
	x := NewIndex()
	x.Seal()
	ref := reference{}
	for i := range 20000 {
		id := fmt.Sprintf("cus_%05d", i)
		x.Put(id, fmt.Sprint(i), "")
		ref[id] = [2]string{fmt.Sprint(i), ""}
	}
	used := x.ids.used
	for i := range 19000 {
		id := fmt.Sprintf("cus_%05d", i)
		x.Delete(id)
		delete(ref, id)
	}
	if x.ids.used >= used/2 || x.ids.wasteful() {
		t.Errorf("arena: got %d bytes used (%d dead) after deleting 95%% of %d, want under half", x.ids.used, x.ids.dead, used)
	}
	ref.check(t, x, x.hash, 77)
}

// TestSealSortsByID loads ids that the keys of sortByID tell apart, and
// ids they do not (sharing a long prefix, shorter than the key, ending
// in zero bytes), each put several times and some deleted, and checks the
// sealed Index against a reference: ids in byte order, each with what
// came last.
func TestSealSortsByID(t *testing.T) {
	prefixes := []string{"", "cus_", "cus_0123456789abcdef_"}
	for seed := range uint64(6) {
		prefix := prefixes[seed%3]
		t.Run(fmt.Sprintf("prefix %q, seed %d", prefix, seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, seed))
			x := NewIndex()
			hash := func(s string) uint32 { return x.hash(s) }
			var ids []string
			if seed >= 3 {
				ids = slices.Clone(oddIDs)
			}
			for range 3000 {
				b := []byte(prefix)
				for range rng.IntN(12) {
					b = append(b, "ab\x00\xff"[rng.IntN(4)])
				}
				ids = append(ids, string(b))
			}
			ref := reference{}
			for range 9000 {
				id := ids[rng.IntN(len(ids))]
				if rng.IntN(6) == 0 {
					x.Delete(id)
					delete(ref, id)
					continue
				}
				c := [2]string{fmt.Sprintf("+1 555 %04d", rng.IntN(10000)), fmt.Sprintf("u%d@example.com", rng.IntN(10000))}
				x.Put(id, c[0], c[1])
				ref[id] = c
			}
			x.Seal()
			ref.check(t, x, hash, 500)
		})
	}
}

// BenchmarkIndexSeal measures sealing an Index loaded with 300,000
// customers, as the read model's watch delivers them.
func BenchmarkIndexSeal(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 300_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("cus_%020x", rng.Uint64())
	}
	for b.Loop() {
		b.StopTimer()
		x := NewIndex()
		for i, id := range ids {
			x.Put(id, fmt.Sprint("+1555", i), id+"@example.com")
		}
		b.StartTimer()
		x.Seal()
	}
}
