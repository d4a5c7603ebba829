package poller

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
)

// chunkRecord is one customer in a chunk.
type chunkRecord struct {
	id       string
	digest   uint64
	eventSeq uint64
	// raw is the record; as readChunk passes it, it lies in the decoded
	// chunk, which is only valid until the callback returns.
	raw json.RawMessage
}

// saved is the saved state r holds, its record copied out of the chunk.
func (r chunkRecord) saved() saved {
	return saved{record: bytes.Clone(r.raw), digest: r.digest, eventSeq: r.eventSeq}
}

// A chunk's first byte is its version: chunkPlain, the records as they
// are; or chunkS2, what follows chunkPlain's version byte compressed with
// S2, as chunks are written. The records' JSON shrinks about five times,
// and the server reads that much less of its files when a poll loads the
// saved records of customers scattered over the state.
//
// chunkLater is chunkS2 for a chunk that holds a customer the state knew
// before, who may have an entry of its own written before the chunk:
// versions before 2026-12-03 took any entry for newer than any chunk, and
// would take that entry for the customer's state; they cannot read this
// version, and fail instead.
const (
	chunkPlain = 1
	chunkS2    = 2
	chunkLater = 3
)

// appendChunk appends r to a chunk being built in b (empty: a new one).
// A plain chunk is its version byte, then per record: uvarint id length,
// id, digest (8 bytes, little-endian), uvarint event sequence, uvarint
// record length, record.
func appendChunk(b []byte, r chunkRecord) []byte {
	if len(b) == 0 {
		b = append(b, chunkPlain)
	}
	b = binary.AppendUvarint(b, uint64(len(r.id)))
	b = append(b, r.id...)
	b = binary.LittleEndian.AppendUint64(b, r.digest)
	b = binary.AppendUvarint(b, r.eventSeq)
	b = binary.AppendUvarint(b, uint64(len(r.raw)))
	return append(b, r.raw...)
}

// errBadChunk is returned for a chunk that does not decode.
var errBadChunk = errors.New("malformed chunk")

// sealChunk returns the plain chunk b compressed, as it is stored, with
// version byte v (chunkS2 or chunkLater). It compresses into *scratch
// (grown when too small) and returns a copy of just the chunk's bytes:
// compressed, a chunk is about a fifth of the room s2 asks for.
func sealChunk(b []byte, v byte, scratch *[]byte) []byte {
	n := s2.MaxEncodedLen(len(b) - 1)
	if cap(*scratch) < n {
		*scratch = make([]byte, n)
	}
	enc := s2.Encode((*scratch)[:n], b[1:])
	out := make([]byte, 1+len(enc))
	out[0] = v
	copy(out[1:], enc)
	return out
}

// readChunk calls f with each record of chunk b, plain or compressed, in
// order, until f returns false. The records' raw points into b, or into
// the decompressed chunk, whose array goes back to decodedChunks once
// readChunk returns: f copies what it keeps (chunkRecord.saved does).
func readChunk(b []byte, f func(chunkRecord) bool) error {
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w: empty", errBadChunk)
	case b[0] == chunkPlain:
		b = b[1:]
	case b[0] == chunkS2 || b[0] == chunkLater:
		n, err := s2.DecodedLen(b[1:])
		if err != nil {
			n = 0 // s2.Decode says why
		}
		buf := decodedChunks.get(n)
		defer decodedChunks.put(buf)
		dec, err := s2.Decode((*buf)[:cap(*buf)], b[1:])
		if err != nil {
			return fmt.Errorf("%w: %v", errBadChunk, err)
		}
		b = dec
	default:
		return fmt.Errorf("%w: unknown version %d", errBadChunk, b[0])
	}
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	for len(b) > 0 {
		var r chunkRecord
		id, ok := field()
		if !ok || len(b) < 8 {
			return errBadChunk
		}
		r.id = string(id)
		r.digest = binary.LittleEndian.Uint64(b)
		b = b[8:]
		seq, k := binary.Uvarint(b)
		if k <= 0 {
			return errBadChunk
		}
		r.eventSeq, b = seq, b[k:]
		raw, ok := field()
		if !ok {
			return errBadChunk
		}
		r.raw = raw
		if !f(r) {
			return nil
		}
	}
	return nil
}

// chunkWriter writes the customers a first start records in bulk, as
// chunks of up to limit bytes. Chunks are sealed as they fill, and
// published (asynchronously, each conditional on the cursor's revision)
// only by flush, which a page calls once the read model holds its
// customers: the model is never behind the state.
type chunkWriter struct {
	limit   int // seal at this many bytes
	buf     []byte
	enc     []byte        // where seal compresses
	members []chunkMember // of the chunk being built
	ready   []readyChunk  // sealed, not published
	pending []pendingChunk
	// moving is set when the records are saved ones moved out of sparse
	// chunks (compact.go): the index's marks of the last pass that saw
	// each customer stay as they are.
	moving bool
}

// chunkMember is what the index keeps of a customer whose record a chunk
// holds, once the chunk is stored.
type chunkMember struct {
	h        idHash
	digest   uint64
	eventSeq uint64
	// known is set for a customer the index knew before: until the chunk
	// is stored, the index keeps what it knew, which is what the state
	// holds if the chunk fails.
	known bool
}

type readyChunk struct {
	data    []byte
	members []chunkMember
}

type pendingChunk struct {
	ack     jetstream.PubAckFuture
	members []chunkMember
}

// newChunkWriter returns a chunk writer for the pass: chunks of up to
// chunkMax bytes, or half the server's max_payload.
func (ps *pass) newChunkWriter() chunkWriter {
	return chunkWriter{limit: min(chunkMax, int(ps.p.js.Conn().MaxPayload()/2))}
}

// add adds r, customer h, to the chunk being built.
func (w *chunkWriter) add(ps *pass, r chunkRecord, h idHash) {
	e, known := ps.x.m[h]
	if len(w.buf) == 0 && cap(w.buf) < w.limit {
		// One array for every chunk the writer builds (sealChunk copies
		// it): a chunk seals once past limit.
		w.buf = make([]byte, 0, w.limit+max(len(r.raw), 1024)+64)
	}
	w.buf = appendChunk(w.buf, r)
	w.members = append(w.members, chunkMember{h: h, digest: r.digest, eventSeq: r.eventSeq, known: known})
	// Seen now, so that the same customer again in this pass counts.
	switch {
	case w.moving:
	case known:
		e.seen = ps.no
		ps.x.m[h] = e
	default:
		ps.x.m[h] = entry{digest: r.digest, seen: ps.no}
	}
	if len(w.buf) >= w.limit {
		w.seal()
	}
}

// seal closes the chunk being built, if any.
func (w *chunkWriter) seal() {
	if len(w.members) == 0 {
		return
	}
	v := byte(chunkS2)
	if slices.ContainsFunc(w.members, func(m chunkMember) bool { return m.known }) {
		v = chunkLater
	}
	w.ready = append(w.ready, readyChunk{data: sealChunk(w.buf, v, &w.enc), members: w.members})
	w.buf, w.members = w.buf[:0], nil
}

// discard drops every chunk not yet published, and takes its new
// customers out of the index: the next pass sees them as new again (the
// known keep what the index knew).
func (w *chunkWriter) discard(ps *pass) {
	w.seal()
	for _, c := range w.ready {
		forget(ps.x, c.members)
	}
	w.ready = nil
}

// forget takes the new customers of ms out of x: their chunk is not
// stored.
func forget(x *index, ms []chunkMember) {
	for _, m := range ms {
		if !m.known {
			delete(x.m, m.h)
		}
	}
}

// flush publishes every sealed chunk, and the one being built.
func (w *chunkWriter) flush(ps *pass) error {
	w.seal()
	for i, c := range w.ready {
		if !ps.ls.Valid(ps.p.cfg.LeaseTTL / 4) {
			w.ready = w.ready[i:]
			w.discard(ps)
			return lease.ErrLost
		}
		ack, err := ps.p.store.publishChunk(c.data, ps.cursorRev())
		if err != nil {
			w.ready = w.ready[i:]
			w.discard(ps)
			return err
		}
		w.pending = append(w.pending, pendingChunk{ack: ack, members: c.members})
	}
	w.ready = nil
	return nil
}

// wait waits for every chunk's acknowledgement and then puts its
// customers in the index; the chunks that no longer hold anyone's saved
// record are deleted at the end of the pass (spend). A new customer whose
// chunk failed is taken out, to be seen as new again by the next pass.
func (w *chunkWriter) wait(ctx context.Context, ps *pass) error {
	var first error
	var empty []uint64
	defer func() { ps.spend(empty) }()
	for _, pc := range w.pending {
		ack, err := await(ctx, pc.ack)
		if err == nil {
			c := ps.x.addChunk(ack.Sequence, len(pc.members))
			for _, m := range pc.members {
				seen := ps.no
				if w.moving {
					seen = ps.x.m[m.h].seen
				}
				empty = append(empty, ps.x.set(m.h, m.digest, c, m.eventSeq, seen)...)
			}
			continue
		}
		forget(ps.x, pc.members)
		if isWrongLast(err) {
			err = errFenced
		}
		if first == nil {
			first = fmt.Errorf("poller: chunk: %w", err)
		}
	}
	w.pending = nil
	return first
}

// spend notes chunks that no longer hold any customer's saved record, to
// be deleted at the end of the pass (dropSpent), off the path of its
// writes: a bulk change empties a chunk per some hundred customers.
func (ps *pass) spend(seqs []uint64) {
	if len(seqs) > 0 {
		ps.mu.Lock()
		ps.spent = append(ps.spent, seqs...)
		ps.mu.Unlock()
	}
}

// dropSpent deletes the chunks the pass spent, several at once. Those of
// a pass that fails before are found spent by the next poller that
// becomes active.
func (ps *pass) dropSpent(ctx context.Context) {
	ps.mu.Lock()
	seqs := ps.spent
	ps.spent = nil
	ps.mu.Unlock()
	_ = each(ctx, ps.p.cfg.Workers, len(seqs), func(ctx context.Context, i int) error {
		ps.p.dropChunks(ctx, seqs[i:i+1])
		return nil
	})
}

// dropChunks deletes chunks that no longer hold any customer's saved
// record. It is tidying: a failure is logged and left for the next start.
func (p *Poller) dropChunks(ctx context.Context, seqs []uint64) {
	for _, seq := range seqs {
		if err := p.store.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) && ctx.Err() == nil {
			p.log.Debug("poller: cannot delete a spent chunk", "seq", seq, "err", err)
		}
	}
}

// decodedChunks are the arrays chunks are decompressed into: a bulk
// change's poll decompresses thousands of chunks, each up to 64 KiB of
// records, and keeps a few records of each (10 % of the bytes the bridge
// allocated over a bulk round, before).
var decodedChunks arrays
