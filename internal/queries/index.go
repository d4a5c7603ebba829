package queries

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/gormic/crm-bridge/internal/crm"
)

// Index is the in-memory index of the read model that find and list need:
// every customer's id in id order, and the hashes of its phone digits and
// of its lower-cased email. It holds no records: a lookup returns ids, and
// the caller reads their records from the model and checks them (two
// values may share a hash).
//
// Each customer takes one slot: its id is in an arena (one byte array in
// 64 KiB chunks, no Go string per id), and three parallel slices hold the
// id's place there and the two 32-bit hashes. order holds the slots sorted
// by id, byPhone and byEmail the slots with a hash sorted by hash (then
// slot); all three are blocks of at most 512 slots, so that an insert in
// random order moves at most one block. No Go map and no pointer per customer: about 55 bytes
// per customer with a 20-byte id (BenchmarkIndexMemory measures it).
//
// An Index is first loaded (Put and Delete in any order, the same id more
// than once), then Sealed, which sorts it; from then on each Put and
// Delete keeps it sorted. Its methods are safe for concurrent use.
type Index struct {
	mu   sync.RWMutex
	hash func(string) uint32 // 0 for "" only

	ids     arena
	ref     []uint32 // slot → its id in ids
	phone   []uint32 // slot → hash of the phone digits; 0: none
	email   []uint32 // slot → hash of the lower-cased email; 0: none
	order   blocks[uint32]
	byPhone blocks[uint32] // slots by (phone[slot], slot)
	byEmail blocks[uint32] // slots by (email[slot], slot)
	free    []uint32

	// While loading: the slots in arrival order, and those that record a
	// delete.
	loading []uint32
	gone    map[uint32]bool
	sealed  bool
}

// NewIndex returns an empty Index, loading.
func NewIndex() *Index {
	seed := maphash.MakeSeed()
	return newIndex(func(s string) uint32 {
		h := maphash.String(seed, s)
		return uint32(h ^ h>>32)
	})
}

// newIndex returns an empty Index that hashes phone digits and emails with
// hash (tests give one that collides).
func newIndex(hash func(string) uint32) *Index {
	return &Index{
		hash: func(s string) uint32 {
			if s == "" {
				return 0
			}
			return max(hash(s), 1)
		},
		gone: map[uint32]bool{},
	}
}

// PhoneKey returns what find's phone lookup compares: the digits of p
// (crm.PhoneDigits).
func PhoneKey(p string) string { return crm.PhoneDigits(p) }

// EmailKey returns what find's email lookup compares: e in lower case.
func EmailKey(e string) string { return strings.ToLower(e) }

// Put records the customer id with its phone and email (as the record
// holds them), replacing what the index held for id.
func (x *Index) Put(id, phone, email string) {
	ph, eh := x.hash(PhoneKey(phone)), x.hash(EmailKey(email))
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.sealed {
		x.loading = append(x.loading, x.newSlot(id, ph, eh))
		return
	}
	p, found := x.seek(id)
	if found {
		s := x.slotAt(p)
		if x.phone[s] == ph && x.email[s] == eh {
			return
		}
		x.unlink(s)
		x.phone[s], x.email[s] = ph, eh
		x.link(s)
		return
	}
	s := x.newSlot(id, ph, eh)
	x.order.insert(p, s)
	x.link(s)
}

// Delete forgets the customer id.
func (x *Index) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.sealed {
		s := x.newSlot(id, 0, 0)
		x.loading = append(x.loading, s)
		x.gone[s] = true
		return
	}
	if p, found := x.seek(id); found {
		s := x.slotAt(p)
		x.order.delete(p)
		x.unlink(s)
		x.release(s)
		x.compact()
	}
}

// Seal ends loading: it sorts the index by id, keeping for each id only
// what came last.
func (x *Index) Seal() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.sealed {
		return
	}
	// Slots were taken in arrival order: among equal ids the highest slot
	// is the latest.
	keys := x.sortByID(x.loading)
	kept := x.loading[:0]
	for i, k := range keys {
		later := i+1 < len(keys) && keys[i+1].k == k.k && bytes.Equal(x.id(keys[i+1].s), x.id(k.s))
		if later || x.gone[k.s] {
			x.release(k.s)
			continue
		}
		kept = append(kept, k.s)
	}
	x.order.fill(kept)
	x.byPhone.fill(byHash(kept, x.phone))
	x.byEmail.fill(byHash(kept, x.email))
	x.loading, x.gone = nil, nil
	x.sealed = true
	x.compact()
}

// idKey is a slot with the 8 bytes of its id that follow the prefix all
// the ids being sorted share, big-endian and zero-padded (prefixKey): of
// two ids, the one with the smaller k is the smaller.
type idKey struct {
	k uint64
	s uint32
}

// sortByID returns slots as idKeys sorted by (id, slot). Most comparisons
// are settled by the keys, held in the array being sorted; comparing the
// ids themselves reads the arena at random, and a load of 300,000 spent
// most of its sort doing that.
func (x *Index) sortByID(slots []uint32) []idKey {
	if len(slots) == 0 {
		return nil
	}
	first := x.id(slots[0])
	p := len(first)
	for _, s := range slots[1:] {
		id := x.id(s)
		i := 0
		for i < min(p, len(id)) && id[i] == first[i] {
			i++
		}
		if p = i; p == 0 {
			break
		}
	}
	keys := make([]idKey, len(slots))
	for i, s := range slots {
		keys[i] = idKey{k: prefixKey(x.id(s)[p:]), s: s}
	}
	slices.SortFunc(keys, func(a, b idKey) int {
		if c := cmp.Compare(a.k, b.k); c != 0 {
			return c
		}
		if c := bytes.Compare(x.id(a.s), x.id(b.s)); c != 0 {
			return c
		}
		return cmp.Compare(a.s, b.s)
	})
	return keys
}

// prefixKey returns b's first 8 bytes as a big-endian number, b padded
// with zeros when shorter: if prefixKey(a) < prefixKey(b), then a < b.
func prefixKey(b []byte) uint64 {
	var a [8]byte
	copy(a[:], b)
	return binary.BigEndian.Uint64(a[:])
}

// byHash returns the slots of slots with a hash, sorted by (hash, slot):
// each as one number, hash above slot, sorted as numbers.
func byHash(slots []uint32, hashes []uint32) []uint32 {
	hs := make([]uint64, 0, len(slots))
	for _, s := range slots {
		if h := hashes[s]; h != 0 {
			hs = append(hs, uint64(h)<<32|uint64(s))
		}
	}
	slices.Sort(hs)
	out := make([]uint32, len(hs))
	for i, v := range hs {
		out[i] = uint32(v)
	}
	return out
}

// cmpHash compares slot a, by its hash in hashes, with slot b of hash hb.
func cmpHash(hashes []uint32, a, hb, b uint32) int {
	if c := cmp.Compare(hashes[a], hb); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// Sealed reports whether Seal was called.
func (x *Index) Sealed() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.sealed
}

// Len returns the number of customers indexed (once sealed).
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.order.len()
}

// ByPhone returns the ids of the customers whose phone digits may be
// those of phone (sharing their hash), in id order.
func (x *Index) ByPhone(phone string) []string {
	h := x.hash(PhoneKey(phone))
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.lookup(&x.byPhone, x.phone, h)
}

// ByEmail returns the ids of the customers whose lower-cased email may be
// email's (sharing its hash), in id order.
func (x *Index) ByEmail(email string) []string {
	h := x.hash(EmailKey(email))
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.lookup(&x.byEmail, x.email, h)
}

// lookup returns the ids of the slots of l whose hash is h (read locked).
func (x *Index) lookup(l *blocks[uint32], hashes []uint32, h uint32) []string {
	if h == 0 {
		return nil
	}
	var ids []string
	p, _ := l.seek(func(s uint32) int { return cmp.Compare(hashes[s], h) })
	l.each(p, func(s uint32) bool {
		if hashes[s] != h {
			return false
		}
		ids = append(ids, string(x.id(s)))
		return true
	})
	slices.Sort(ids)
	return ids
}

// Page returns up to limit ids after the id after ("" for the first), in
// id order, and whether more follow them.
func (x *Index) Page(after string, limit int) (ids []string, more bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var p at
	var found bool
	if after != "" {
		p, found = x.seek(after)
	}
	ids = make([]string, 0, min(limit, x.order.len()))
	x.order.each(p, func(s uint32) bool {
		if found {
			found = false // the cursor's own customer
			return true
		}
		if len(ids) == limit {
			more = true
			return false
		}
		ids = append(ids, string(x.id(s)))
		return true
	})
	return ids, more
}

// seek returns where id is or would be in order (sealed).
func (x *Index) seek(id string) (at, bool) {
	return x.order.seek(func(s uint32) int { return compareID(x.id(s), id) })
}

func (x *Index) slotAt(p at) uint32 { return x.order.b[p.b][p.i] }

// id returns slot s's id; the caller must not change its bytes.
func (x *Index) id(s uint32) []byte { return x.ids.get(x.ref[s]) }

// newSlot takes a slot for id with its hashes (the index's lists do not
// have it yet).
func (x *Index) newSlot(id string, ph, eh uint32) uint32 {
	ref := x.ids.add(id)
	if n := len(x.free); n > 0 {
		s := x.free[n-1]
		x.free = x.free[:n-1]
		x.ref[s], x.phone[s], x.email[s] = ref, ph, eh
		return s
	}
	if len(x.ref) == math.MaxUint32 {
		panic("queries: more than 4 billion customers")
	}
	x.ref = append(x.ref, ref)
	x.phone = append(x.phone, ph)
	x.email = append(x.email, eh)
	return uint32(len(x.ref) - 1)
}

// release frees slot s, which no list holds.
func (x *Index) release(s uint32) {
	x.ids.drop(x.ref[s])
	x.phone[s], x.email[s] = 0, 0
	x.free = append(x.free, s)
}

// link adds slot s to byPhone and byEmail under its hashes.
func (x *Index) link(s uint32) {
	for _, l := range x.hashLists() {
		if h := l.hashes[s]; h != 0 {
			p, _ := l.list.seek(func(v uint32) int { return cmpHash(l.hashes, v, h, s) })
			l.list.insert(p, s)
		}
	}
}

// unlink removes slot s from byPhone and byEmail, before its hashes
// change.
func (x *Index) unlink(s uint32) {
	for _, l := range x.hashLists() {
		if h := l.hashes[s]; h != 0 {
			if p, found := l.list.seek(func(v uint32) int { return cmpHash(l.hashes, v, h, s) }); found {
				l.list.delete(p)
			}
		}
	}
}

type hashList struct {
	list   *blocks[uint32]
	hashes []uint32
}

func (x *Index) hashLists() [2]hashList {
	return [2]hashList{{&x.byPhone, x.phone}, {&x.byEmail, x.email}}
}

// compact copies the live ids into a new arena once most of the old one
// is dead (sealed).
func (x *Index) compact() {
	if !x.ids.wasteful() {
		return
	}
	var fresh arena
	x.order.each(at{}, func(s uint32) bool {
		x.ref[s] = fresh.add(string(x.ids.get(x.ref[s])))
		return true
	})
	x.ids = fresh
}
