package poller

import (
	"bytes"
	"context"
	"fmt"
)

// A chunk is kept while any customer's saved record is the one in it:
// after a bulk change, the next change of each of its customers saves
// them elsewhere, and a chunk can be left holding few saved records among
// many spent ones. compact moves the saved records of such sparse chunks
// into new chunks, and the sparse ones are deleted, so that the state
// holds at most about compactShare times the bytes of the records it
// keeps in chunks.
const (
	// compactShare: a chunk is sparse when fewer than one of its records
	// in compactShare is still a saved record.
	compactShare = 4
	// compactMax is the most sparse chunks one pass moves.
	compactMax = 64
)

// compact moves the saved records of up to compactMax sparse chunks into
// new chunks, after a pass has saved everything it wrote. A moved record
// is the same record, with the same last event: the read model and the
// index's marks are left as they are. A customer with an entry of its own
// written after its chunk (an acknowledgement lost: the index missed it)
// is not moved, since the entry is its state. A new chunk that fails
// leaves its customers where they were.
func (ps *pass) compact(ctx context.Context) error {
	var sparse []uint32
	for i, c := range ps.x.chunks {
		if c.seq != 0 && c.live > 0 && c.live*compactShare < c.members {
			sparse = append(sparse, uint32(i+1))
			if len(sparse) == compactMax {
				break
			}
		}
	}
	if len(sparse) == 0 {
		return nil
	}
	var moving []chunkRecord
	for _, c := range sparse {
		seq := ps.x.chunks[c-1].seq
		m, err := ps.p.store.stream.GetMsg(ctx, seq)
		if err == nil {
			err = readChunk(m.Data, func(r chunkRecord) bool {
				if e, ok := ps.x.m[ps.x.hash(r.id)]; ok && e.chunk == c && e.digest == r.digest {
					r.raw = bytes.Clone(r.raw) // the chunk's array goes back to its pool
					moving = append(moving, r)
				}
				return true
			})
		}
		if err != nil {
			return fmt.Errorf("poller: compact chunk %d: %w", seq, err)
		}
	}
	newer, err := ps.p.store.entriesAfterChunks(ctx, ps.x, moving)
	if err != nil {
		return fmt.Errorf("poller: compact chunks: %w", err)
	}
	w := ps.newChunkWriter()
	w.moving = true
	moved := 0
	for i, r := range moving {
		if !newer[i] {
			w.add(ps, r, ps.x.hash(r.id))
			moved++
		}
	}
	if err := w.flush(ps); err != nil {
		return err
	}
	if err := w.wait(ctx, ps); err != nil {
		return err
	}
	ps.p.log.Debug("poller moved the saved records of sparse chunks", "chunks", len(sparse), "records", moved)
	return nil
}
