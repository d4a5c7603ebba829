package poller

import (
	"context"
	"fmt"
	"hash/maphash"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// idHash names a customer in the index: 128 bits of a keyed hash of its
// id, so that the index holds no strings. Two ids of a million collide with
// a probability of about 10^-27.
type idHash [2]uint64

// entry is what the index keeps of one customer: 24 bytes.
type entry struct {
	// digest is the wholeDigest of the customer's saved record.
	digest uint64
	// eventSeq is, for a record in a chunk, the chunk's sequence of the
	// customer's last event (0 for none): with digest, all of the chunk
	// a load needs but the record, which the read model holds too
	// (loadMany). 0 for a customer with its own entry.
	eventSeq uint64
	// chunk is where that record is: 0 for its own c.<id key> entry,
	// otherwise 1 + its chunk's position in index.chunks.
	chunk uint32
	// seen is the number of the last pass that saw the customer.
	seen uint32
}

// chunkAt is where a customer's saved record is, when it is in a chunk:
// the chunk's stream sequence (0: not in a chunk), and the record's digest
// and last event's sequence as the chunk holds them.
type chunkAt struct {
	seq, digest, eventSeq uint64
}

// chunkRef is one chunk: its stream sequence, how many records it holds,
// and how many customers' saved records are still the ones in it.
type chunkRef struct {
	seq           uint64
	members, live int
}

// index is the compact per-customer digest the active poller keeps in
// memory: enough to tell, without a read, that a record is exactly as
// saved. It is rebuilt from the state (StateStream) whenever a poller becomes
// active. It is not safe for concurrent use.
type index struct {
	seeds  [2]maphash.Seed
	m      map[idHash]entry
	chunks []chunkRef
}

func newIndex() *index {
	return &index{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, m: make(map[idHash]entry)}
}

func (x *index) hash(id string) idHash {
	return idHash{maphash.String(x.seeds[0], id), maphash.String(x.seeds[1], id)}
}

// saved returns whether the index knows h and, if so, the chunk its saved
// record is in (the zero chunkAt: its own entry).
func (x *index) saved(h idHash) (known bool, chunk chunkAt) {
	e, ok := x.m[h]
	if !ok {
		return false, chunkAt{}
	}
	return true, x.chunkAt(e)
}

// chunkAt returns where e's record is, when in a chunk.
func (x *index) chunkAt(e entry) chunkAt {
	if e.chunk == 0 {
		return chunkAt{}
	}
	return chunkAt{seq: x.chunkSeq(e), digest: e.digest, eventSeq: e.eventSeq}
}

// chunkSeq returns the stream sequence of e's chunk, 0 for none.
func (x *index) chunkSeq(e entry) uint64 {
	if e.chunk == 0 {
		return 0
	}
	return x.chunks[e.chunk-1].seq
}

// set records that h's saved record now has digest d in chunk c (0: its
// own entry), with its last event at eventSeq in that chunk; the chunk it
// was in before loses a customer. It returns the sequences of chunks that
// no longer hold any customer's saved record.
func (x *index) set(h idHash, d uint64, c uint32, eventSeq uint64, seen uint32) (empty []uint64) {
	old, ok := x.m[h]
	if ok && old.chunk != 0 && old.chunk != c {
		empty = x.release(old.chunk)
	}
	if c != 0 && (!ok || old.chunk != c) {
		x.chunks[c-1].live++
	}
	if c == 0 {
		eventSeq = 0
	}
	x.m[h] = entry{digest: d, eventSeq: eventSeq, chunk: c, seen: seen}
	return empty
}

// remove forgets h (deleted), returning emptied chunks as set does.
func (x *index) remove(h idHash) (empty []uint64) {
	if old, ok := x.m[h]; ok {
		delete(x.m, h)
		if old.chunk != 0 {
			return x.release(old.chunk)
		}
	}
	return nil
}

func (x *index) release(c uint32) []uint64 {
	ref := &x.chunks[c-1]
	ref.live--
	if ref.live == 0 && ref.seq != 0 {
		return []uint64{ref.seq}
	}
	return nil
}

// addChunk registers a chunk of members records at stream sequence seq,
// and returns its number for entry.chunk.
func (x *index) addChunk(seq uint64, members int) uint32 {
	x.chunks = append(x.chunks, chunkRef{seq: seq, members: members})
	return uint32(len(x.chunks))
}

// laterThanChunk reports whether a customer's entry at stream sequence
// entrySeq was written after its chunk at chunkSeq (0: none): of the two,
// the one written last is its saved state (rebuild, load, loadMany, and
// what compaction and kept leave where it is).
func laterThanChunk(entrySeq, chunkSeq uint64) bool { return entrySeq > chunkSeq }

// rebuild reads the state into a new index: every chunk, then every
// customer's own entry (headers only). Of a customer's entry and the
// chunks that hold it, the one written last (the greatest stream
// sequence) is its saved state. Chunks left holding nobody's saved record
// are returned for deletion.
func (s *store) rebuild(ctx context.Context) (*index, []uint64, error) {
	x := newIndex()
	err := s.scan(ctx, "b.>", false, func(_ string, m jetstream.Msg) error {
		meta, _ := m.Metadata()
		c := x.addChunk(meta.Sequence.Stream, 0)
		if err := readChunk(m.Data(), func(r chunkRecord) bool {
			x.chunks[c-1].members++
			x.set(x.hash(r.id), r.digest, c, r.eventSeq, 0)
			return true
		}); err != nil {
			return fmt.Errorf("poller: chunk %d: %w", meta.Sequence.Stream, err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	err = s.scan(ctx, "c.>", true, func(key string, m jetstream.Msg) error {
		id, err := keyID(key)
		if err != nil {
			return err
		}
		h := x.hash(id)
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("poller: state of %s: %w", id, err)
		}
		if e, ok := x.m[h]; ok && !laterThanChunk(meta.Sequence.Stream, x.chunkSeq(e)) {
			return nil // a chunk written since holds it
		}
		if isDeleteMarker(m.Headers()) {
			x.remove(h)
			return nil
		}
		d, err := strconv.ParseUint(m.Headers().Get(hdrDigest), 16, 64)
		if err != nil {
			return fmt.Errorf("poller: state of %s: %s: %w", id, hdrDigest, err)
		}
		x.set(h, d, 0, 0, 0)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var empty []uint64
	for _, c := range x.chunks {
		if c.live == 0 {
			empty = append(empty, c.seq)
		}
	}
	return x, empty, nil
}
