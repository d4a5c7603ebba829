package queries

import (
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/gormic/crm-bridge/internal/crm"
)

// noSlot ends a chain of slots.
const noSlot = math.MaxUint32

// Index is the in-memory index of the read model that find and list need:
// every customer's id in id order, and the hashes of its phone digits and
// of its lower-cased email. It holds no records: a lookup returns ids, and
// the caller reads their records from the model and checks them (two
// values may share a hash).
//
// Each customer takes one slot in parallel slices (its id, its two 32-bit
// hashes, the next slot of each hash chain); order holds the slots sorted
// by id, and byPhone and byEmail map a hash to the first slot of its chain.
// That is about 90 bytes per customer with a 20-byte id
// (TestIndexMemoryPerCustomer measures it).
//
// An Index is first loaded (Put and Delete in any order, the same id more
// than once), then Sealed, which sorts it; from then on each Put and
// Delete keeps it sorted. A new id after Seal goes to tail, a short
// sorted slice merged into order once it outgrows tailMax: inserting each
// into order itself moved half of order per id, quadratic in a first sync
// that fills an empty model (200,000 puts took 3 s, a million about 75).
// Its methods are safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	seed    maphash.Seed
	ids     []string // slot → id; "" when free
	phone   []uint32 // slot → hash of the phone digits; 0: none
	email   []uint32 // slot → hash of the lower-cased email; 0: none
	nextP   []uint32 // slot → next slot of its phone chain
	nextE   []uint32 // slot → next slot of its email chain
	byPhone map[uint32]uint32
	byEmail map[uint32]uint32
	order   []uint32 // slots in id order once sealed; in arrival order before
	tail    []uint32 // sealed: slots of ids new since the last merge, in id order
	free    []uint32
	gone    map[uint32]bool // while loading: slots that record a delete
	sealed  bool
}

// NewIndex returns an empty Index, loading.
func NewIndex() *Index {
	return &Index{seed: maphash.MakeSeed(), byPhone: map[uint32]uint32{}, byEmail: map[uint32]uint32{}, gone: map[uint32]bool{}}
}

// PhoneKey returns what find's phone lookup compares: the digits of p
// (crm.PhoneDigits).
func PhoneKey(p string) string { return crm.PhoneDigits(p) }

// EmailKey returns what find's email lookup compares: e in lower case.
func EmailKey(e string) string { return strings.ToLower(e) }

// hash returns a 32-bit hash of s, 0 for "" only. Values that share a
// hash share a chain; callers check the records they find.
func (x *Index) hash(s string) uint32 {
	if s == "" {
		return 0
	}
	h := maphash.String(x.seed, s)
	return max(uint32(h^h>>32), 1)
}

// Put records the customer id with its phone and email (as the record
// holds them), replacing what the index held for id.
func (x *Index) Put(id, phone, email string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ph, eh := x.hash(PhoneKey(phone)), x.hash(EmailKey(email))
	if !x.sealed {
		x.add(id, ph, eh)
		return
	}
	if s, ok := x.slot(id); ok {
		x.unlink(s)
		x.link(s, ph, eh)
		return
	}
	s := x.add(id, ph, eh)
	x.order = x.order[:len(x.order)-1] // add appended it
	i, _ := findIn(x.ids, x.tail, id)
	x.tail = slices.Insert(x.tail, i, s)
	if len(x.tail) > tailMax(len(x.order)) {
		x.merge()
	}
}

// tailMax is how long tail grows beside an order of n slots: about the
// square root of n, so that inserting into tail and merging it cost alike.
func tailMax(n int) int {
	return max(256, int(math.Sqrt(float64(n))))
}

// merge moves tail's slots into order, keeping it sorted: from the
// greatest, each finds its place in what is left of order, and the slots
// after that place move up by as many as are still to come, and it.
func (x *Index) merge() {
	n, k := len(x.order), len(x.tail)
	x.order = slices.Grow(x.order, k)[:n+k]
	end := n // order[:end] has not moved yet
	for j := k - 1; j >= 0; j-- {
		s := x.tail[j]
		at, _ := findIn(x.ids, x.order[:end], x.ids[s])
		copy(x.order[at+j+1:end+j+1], x.order[at:end])
		x.order[at+j] = s
		end = at
	}
	x.tail = x.tail[:0]
}

// slot returns id's slot (sealed).
func (x *Index) slot(id string) (uint32, bool) {
	if i, ok := x.find(id); ok {
		return x.order[i], true
	}
	if i, ok := findIn(x.ids, x.tail, id); ok {
		return x.tail[i], true
	}
	return 0, false
}

// Delete forgets the customer id.
func (x *Index) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.sealed {
		s := x.add(id, 0, 0)
		x.gone[s] = true
		return
	}
	if i, ok := x.find(id); ok {
		x.release(x.order[i])
		x.order = slices.Delete(x.order, i, i+1)
	} else if i, ok := findIn(x.ids, x.tail, id); ok {
		x.release(x.tail[i])
		x.tail = slices.Delete(x.tail, i, i+1)
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
	slices.SortFunc(x.order, func(a, b uint32) int {
		if c := strings.Compare(x.ids[a], x.ids[b]); c != 0 {
			return c
		}
		return int(int64(a) - int64(b))
	})
	kept := x.order[:0]
	for i, s := range x.order {
		if i+1 < len(x.order) && x.ids[x.order[i+1]] == x.ids[s] || x.gone[s] {
			x.release(s)
			continue
		}
		kept = append(kept, s)
	}
	x.order = slices.Clip(kept)
	x.gone = nil
	x.sealed = true
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
	return len(x.order) + len(x.tail)
}

// ByPhone returns the ids of the customers whose phone digits may be
// those of phone (sharing their hash), in id order.
func (x *Index) ByPhone(phone string) []string {
	return x.chain(true, PhoneKey(phone))
}

// ByEmail returns the ids of the customers whose lower-cased email may be
// email's (sharing its hash), in id order.
func (x *Index) ByEmail(email string) []string {
	return x.chain(false, EmailKey(email))
}

func (x *Index) chain(phone bool, key string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	heads, next := x.byEmail, x.nextE
	if phone {
		heads, next = x.byPhone, x.nextP
	}
	h := x.hash(key)
	if h == 0 {
		return nil
	}
	var ids []string
	s, ok := heads[h]
	for ok && s != noSlot {
		ids = append(ids, x.ids[s])
		s = next[s]
	}
	slices.Sort(ids)
	return ids
}

// Page returns up to limit ids after the id after ("" for the first), in
// id order, and whether more follow them.
func (x *Index) Page(after string, limit int) (ids []string, more bool) {
	x.mu.RLock()
	for len(x.tail) > 0 { // order alone is paged
		x.mu.RUnlock()
		x.mu.Lock()
		x.merge()
		x.mu.Unlock()
		x.mu.RLock()
	}
	defer x.mu.RUnlock()
	i := 0
	if after != "" {
		var found bool
		i, found = x.find(after)
		if found {
			i++
		}
	}
	end := min(i+limit, len(x.order))
	ids = make([]string, 0, end-i)
	for _, s := range x.order[i:end] {
		ids = append(ids, x.ids[s])
	}
	return ids, end < len(x.order)
}

// find returns where id is or would be in order (sealed).
func (x *Index) find(id string) (int, bool) { return findIn(x.ids, x.order, id) }

// findIn returns where id is or would be in slots, sorted by their ids.
func findIn(ids []string, slots []uint32, id string) (int, bool) {
	return slices.BinarySearchFunc(slots, id, func(s uint32, id string) int { return strings.Compare(ids[s], id) })
}

// add takes a slot for id, links it and appends it to order.
func (x *Index) add(id string, ph, eh uint32) uint32 {
	var s uint32
	if n := len(x.free); n > 0 && x.sealed {
		s, x.free = x.free[n-1], x.free[:n-1]
		x.ids[s] = strings.Clone(id)
	} else {
		s = uint32(len(x.ids))
		x.ids = append(x.ids, strings.Clone(id))
		x.phone = append(x.phone, 0)
		x.email = append(x.email, 0)
		x.nextP = append(x.nextP, noSlot)
		x.nextE = append(x.nextE, noSlot)
	}
	x.link(s, ph, eh)
	x.order = append(x.order, s)
	return s
}

// release unlinks slot s and frees it.
func (x *Index) release(s uint32) {
	x.unlink(s)
	x.ids[s] = ""
	x.free = append(x.free, s)
}

func (x *Index) link(s, ph, eh uint32) {
	x.phone[s], x.email[s] = ph, eh
	if ph != 0 {
		x.nextP[s] = headOr(x.byPhone, ph)
		x.byPhone[ph] = s
	}
	if eh != 0 {
		x.nextE[s] = headOr(x.byEmail, eh)
		x.byEmail[eh] = s
	}
}

func headOr(heads map[uint32]uint32, h uint32) uint32 {
	if s, ok := heads[h]; ok {
		return s
	}
	return noSlot
}

func (x *Index) unlink(s uint32) {
	unchain(x.byPhone, x.nextP, x.phone[s], s)
	unchain(x.byEmail, x.nextE, x.email[s], s)
	x.phone[s], x.email[s] = 0, 0
}

// unchain removes slot s from the chain of hash h.
func unchain(heads map[uint32]uint32, next []uint32, h, s uint32) {
	if h == 0 {
		return
	}
	head, ok := heads[h]
	if !ok {
		return
	}
	if head == s {
		if next[s] == noSlot {
			delete(heads, h)
		} else {
			heads[h] = next[s]
		}
		next[s] = noSlot
		return
	}
	for p := head; next[p] != noSlot; p = next[p] {
		if next[p] == s {
			next[p] = next[s]
			next[s] = noSlot
			return
		}
	}
}
