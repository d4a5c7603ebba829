package crmsim

import (
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/google/btree"
)

// timeKey orders records by a timestamp, then id: the export by
// updatedAt, the list by createdAt.
type timeKey struct {
	at int64
	id string
}

func timeLess(a, b timeKey) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.id < b.id
}

// store holds the customers and their indexes. Every method expects mu to
// be held (for writing when it changes anything) unless it says otherwise.
type store struct {
	mu        sync.RWMutex
	byID      map[string]*record
	byUpdated *btree.BTreeG[timeKey] // every record by (updatedAt, id): the export
	byCreated *btree.BTreeG[timeKey] // every record by (createdAt, id): the list
	phones    map[string]string      // phoneKey → id, live records only

	rng        *rand.Rand
	src        *rand.PCG // rng's source, whose state Save keeps
	numberSeq  uint64
	phoneSeq   uint64
	changes    []Change
	changeSeq  uint64
	maxChanges int
	seedGen    *seedGen // made on first use
}

const btreeDegree = 32

func newStore(seed uint64, maxChanges int) *store {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &store{
		byID:       make(map[string]*record),
		byUpdated:  btree.NewG(btreeDegree, timeLess),
		byCreated:  btree.NewG(btreeDegree, timeLess),
		phones:     make(map[string]string),
		rng:        rand.New(src),
		src:        src,
		numberSeq:  100000,
		maxChanges: maxChanges,
	}
}

// newID returns an unused customer id: "cus_" and 20 base32 characters.
func (st *store) newID() string {
	for {
		id := base32ID("cus_", st.rng.Uint64(), st.rng.Uint64())
		if _, taken := st.byID[id]; !taken {
			return id
		}
	}
}

// gen returns the generator of seeded and churned customers.
func (st *store) gen() *seedGen {
	if st.seedGen == nil {
		st.seedGen = newSeedGen()
	}
	return st.seedGen
}

// reserve makes room for n more customers when the store is empty, so that
// Seed does not grow the maps step by step.
func (st *store) reserve(n int) {
	if len(st.byID) == 0 {
		st.byID = make(map[string]*record, n)
	}
	if len(st.phones) == 0 {
		st.phones = make(map[string]string, n)
	}
}

// nextNumber returns the next generated customer number.
func (st *store) nextNumber() string {
	st.numberSeq++
	return strconv.FormatUint(st.numberSeq, 10)
}

// insert adds a new record to every index.
func (st *store) insert(r *record) {
	st.byID[r.id] = r
	st.byUpdated.ReplaceOrInsert(timeKey{r.updated, r.id})
	st.byCreated.ReplaceOrInsert(timeKey{r.created, r.id})
	if !r.archived {
		st.phones[r.phoneKey] = r.id
	}
}

// remove takes r out of every index.
func (st *store) remove(r *record) {
	delete(st.byID, r.id)
	st.byUpdated.Delete(timeKey{r.updated, r.id})
	st.byCreated.Delete(timeKey{r.created, r.id})
	st.unindexPhone(r)
}

// unindexPhone frees r's phone for other customers.
func (st *store) unindexPhone(r *record) {
	if st.phones[r.phoneKey] == r.id {
		delete(st.phones, r.phoneKey)
	}
}

// replace swaps the stored r for next (same id), keeping the indexes right.
func (st *store) replace(r *record, next record) {
	if r.updated != next.updated {
		st.byUpdated.Delete(timeKey{r.updated, r.id})
		st.byUpdated.ReplaceOrInsert(timeKey{next.updated, next.id})
	}
	if r.phoneKey != next.phoneKey || r.archived != next.archived {
		st.unindexPhone(r)
		if !next.archived {
			st.phones[next.phoneKey] = next.id
		}
	}
	*r = next
}

// phoneTaken reports whether a live customer other than self has key.
func (st *store) phoneTaken(key, self string) bool {
	id, ok := st.phones[key]
	return ok && id != self
}

// stamp sets next's updated fields for a change at now by a.
func stamp(next *record, now int64, a actor) {
	next.updated, next.updatedBy, next.updatedVia = now, a.by, a.via
}

// Len returns the number of customers held, archived ones included.
func (s *Simulator) Len() int {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	return len(s.store.byID)
}

// wire returns the wire form of customer id, read under the store's lock,
// and whether it exists.
func (st *store) wire(id string) (userMap, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	r := st.byID[id]
	if r == nil {
		return userMap{}, false
	}
	return r.wire(), true
}
