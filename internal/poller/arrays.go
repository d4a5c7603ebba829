package poller

import "sync"

// arrays is a pool of byte arrays of one kind (event messages, decoded
// chunks), each given back once nothing reads it any more, for the next
// one of its kind: a bulk change's poll would otherwise allocate one for
// each event and each chunk it reads.
type arrays struct{ pool sync.Pool } // of *[]byte

// get returns an empty array with room for at least n bytes.
func (a *arrays) get(n int) *[]byte {
	b, _ := a.pool.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	if cap(*b) < n {
		*b = make([]byte, 0, n)
	}
	*b = (*b)[:0]
	return b
}

// put gives b back.
func (a *arrays) put(b *[]byte) { a.pool.Put(b) }
