package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
	"golang.org/x/sync/errgroup"

	"github.com/gormic/crm-bridge/internal/model"
)

// This file holds the store's writes and reads of many customers at once,
// for a poll's pipeline (pipeline.go). Like store.go, it knows the
// subjects of the poller's state stream.

// multiLastMax is how many subjects one batched direct get asks for: the
// server answers at most 1,024 messages to one.
const multiLastMax = 512

// loadMany returns the saved state of each of cs, as load would: in one
// batched direct get per multiLastMax customers with their own entries;
// for those whose record is in a chunk, from whichever answers first of
// their read model entries (one batched direct get per multiLastMax,
// fromModel) and their chunks (one get per chunk, Workers at once,
// fromChunk). The two race because the server reads a stream's messages
// a whole file block at a time: right after a first start the model's
// blocks are cold, and reading a page's thousand entries loads them all
// (some 700 MB at a million customers, 3 s here), where the chunks are a
// third of that and load in 0.8 s; later pages find the model's blocks
// warm, and its entries come first for a hundredth of the chunks' bytes.
// Once every chunked customer is loaded, the slower reads are abandoned.
// A customer in a chunk may have an entry of its own too, written
// before the chunk (its revision is what the next write of the entry
// expects) or after it (an acknowledgement lost: the index missed it).
// Their entries are read too, in batches of their own: whichever of entry
// and chunk was written last is the state, as for load. That read may
// fail, or come too late (entriesGrace): a write that then expects the
// wrong revision, or an event that expects the wrong last event, is
// refused, and apply loads the customer alone.
//
// loaded[i] is false where cs[i]'s state could not be read so (the index
// says it has an entry, but none came back, or its chunk does not hold
// it): load that one alone. It fails only when NATS does.
func (s *store) loadMany(ctx context.Context, cs []change, workers int) (svs []saved, loaded []bool, err error) {
	svs, loaded = make([]saved, len(cs)), make([]bool, len(cs))
	entries := make([]*saved, len(cs))       // each one's own entry, if any
	own := make(map[string]int, len(cs))     // subject → index in cs
	inChunk := make(map[string]int, len(cs)) // the same, for those in a chunk
	var chunked []int
	for i, c := range cs {
		subj := s.subjects + idKey(c.id)
		switch {
		case !c.known:
			loaded[i] = true
		case c.chunk.seq != 0:
			chunked = append(chunked, i)
			inChunk[subj] = i
		default:
			own[subj] = i
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.entries(gctx, own, cs, entries, workers) })
	entriesDone := make(chan struct{})
	ectx, stopEntries := context.WithCancel(ctx)
	defer stopEntries()
	if len(chunked) > 0 {
		go func() {
			defer close(entriesDone)
			_ = s.entries(ectx, inChunk, cs, entries, workers)
		}()
		g.Go(func() error { return s.chunkedRace(gctx, chunked, cs, svs, loaded, workers) })
	} else {
		close(entriesDone)
	}
	err = g.Wait()
	// The entries of the customers in chunks are waited for a little
	// once the rest is in, and no more: on the reads connection they can
	// be answered behind the read model's entries of a round before, cold
	// and abandoned by its race, for up to a second.
	select {
	case <-entriesDone:
	case <-time.After(s.grace):
		stopEntries()
		<-entriesDone
	}
	if err != nil {
		return nil, nil, err
	}
	for i, e := range entries {
		switch {
		case e == nil:
		case laterThanChunk(e.rev, cs[i].chunk.seq):
			svs[i], loaded[i] = *e, true
		default:
			svs[i].rev = e.rev
		}
	}
	return svs, loaded, nil
}

// entriesGrace is how long loadMany waits for the entries of customers
// in chunks once their chunks or model entries are in.
const entriesGrace = 10 * time.Millisecond

// entriesAfterChunks reports, for each of rs, customers in chunks in x,
// whether it has an entry of its own written after its chunk, in batched
// reads.
func (s *store) entriesAfterChunks(ctx context.Context, x *index, rs []chunkRecord) ([]bool, error) {
	cs := make([]change, len(rs))
	subjects := make(map[string]int, len(rs))
	for i, r := range rs {
		h := x.hash(r.id)
		cs[i] = change{id: r.id, h: h, known: true, chunk: x.chunkAt(x.m[h])}
		subjects[s.subjects+idKey(r.id)] = i
	}
	entries := make([]*saved, len(rs))
	if err := s.entries(ctx, subjects, cs, entries, 1); err != nil {
		return nil, err
	}
	newer := make([]bool, len(rs))
	for i, e := range entries {
		newer[i] = e != nil && laterThanChunk(e.rev, cs[i].chunk.seq)
	}
	return newer, nil
}

// modelHeadStart is how long chunkedRace waits for the read model's
// entries before it reads the chunks too: a page's thousand entries come
// in a few milliseconds when the model's blocks are warm.
const modelHeadStart = 20 * time.Millisecond

// chunkDense is how many of the customers loaded together a chunk must
// hold on average for chunkedRace to read the chunks alone: a bulk
// change's next round finds its customers in the chunks the one before
// saved them in, a hundred a chunk, and a few chunks cost less to read
// than a thousand model entries, whose records must be hashed to be
// taken.
const chunkDense = 8

// chunkedRace loads cs[is...], each in a chunk, from their read model
// entries and from their chunks (loadMany; the chunks once the model had
// a head start of modelHeadStart, or from the chunks alone when they
// hold chunkDense customers each on average), each from whichever
// answers first, and returns once every one is loaded or both reads
// ended. A failed read of the model is no error (the chunks are the
// state); a failed read of a chunk is one, unless the model gave each of
// its customers. It writes svs[i] and loaded[i] for i in is only.
func (s *store) chunkedRace(ctx context.Context, is []int, cs []change, svs []saved, loaded []bool, workers int) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	left := len(is)
	take := func(i int, sv saved) {
		mu.Lock()
		defer mu.Unlock()
		if loaded[i] {
			return
		}
		svs[i], loaded[i] = sv, true
		if left--; left == 0 {
			cancel() // the slower reads are abandoned
		}
	}
	chunks := make(map[uint64][]int)
	for _, i := range is {
		chunks[cs[i].chunk.seq] = append(chunks[cs[i].chunk.seq], i)
	}
	seqs := slices.Collect(maps.Keys(chunks))
	batches := slices.Collect(slices.Chunk(is, multiLastMax))
	failed := make(map[uint64]error) // chunk → its read's error
	modelDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		// The model's entries, when its blocks are warm, answer within a
		// few milliseconds: the chunks are read only if they did not.
		select {
		case <-modelDone:
		case <-time.After(modelHeadStart):
		case <-rctx.Done():
		}
		_ = each(rctx, workers, len(seqs), func(ctx context.Context, j int) error {
			mu.Lock()
			given := !slices.ContainsFunc(chunks[seqs[j]], func(i int) bool { return !loaded[i] })
			mu.Unlock()
			if given {
				return nil // by the model
			}
			if err := s.fromChunk(ctx, seqs[j], chunks[seqs[j]], cs, take); err != nil {
				mu.Lock()
				failed[seqs[j]] = err
				mu.Unlock()
			}
			return nil // the model may give its customers
		})
	})
	if len(seqs)*chunkDense <= len(is) {
		close(modelDone) // the chunks alone
	} else {
		wg.Go(func() {
			defer close(modelDone)
			_ = each(rctx, workers, len(batches), func(ctx context.Context, j int) error {
				s.fromModel(ctx, batches[j], cs, take)
				return nil
			})
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil || left == 0 {
		return err
	}
	for seq, err := range failed {
		if slices.ContainsFunc(chunks[seq], func(i int) bool { return !loaded[i] }) {
			return err
		}
	}
	return nil
}

// fromModel reads the records of cs[is...], each in a chunk, from their
// read model entries, and takes each whose whole digest is the one the
// chunk holds: the record the chunk holds, but for hash collisions (a
// record is some 600 bytes, a chunk 64 KiB). The rest of its state, its
// last event's sequence, the index keeps (chunkAt). An entry that differs
// (the model may be ahead of the state, after a poller that did not live
// to save it), or that is missing, is left to fromChunk; so is every
// customer when the read fails, the chunks being the state.
func (s *store) fromModel(ctx context.Context, is []int, cs []change, take func(int, saved)) {
	keys := make([]string, len(is))
	want := make(map[string]int, len(is))
	for j, i := range is {
		keys[j] = model.Key(cs[i].id)
		want[keys[j]] = i
	}
	_ = lastModelMany(ctx, s.reads, keys, func(key string, value []byte) {
		i, ok := want[key]
		if !ok {
			return
		}
		if d, err := wholeDigest(value); err == nil && d == cs[i].chunk.digest {
			take(i, saved{record: value, digest: d, eventSeq: cs[i].chunk.eventSeq})
		}
	})
}

// entries reads the entries of subjects (subject → index in cs) into
// entries, in batched reads of multiLastMax, workers at once.
func (s *store) entries(ctx context.Context, subjects map[string]int, cs []change, entries []*saved, workers int) error {
	batches := slices.Collect(slices.Chunk(slices.Collect(maps.Keys(subjects)), multiLastMax))
	return each(ctx, workers, len(batches), func(ctx context.Context, j int) error {
		return s.lastMany(ctx, batches[j], subjects, cs, entries)
	})
}

// lastMany reads the last entry of each of subjects (at most
// multiLastMax) into entries. Each goroutine of loadMany writes distinct
// elements of entries.
func (s *store) lastMany(ctx context.Context, subjects []string, own map[string]int, cs []change, entries []*saved) error {
	msgs, err := jetstreamext.GetLastMsgsFor(ctx, s.reads, s.stream.CachedInfo().Config.Name, subjects)
	if err != nil {
		return fmt.Errorf("poller: load %d customers: %w", len(subjects), err)
	}
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) || errors.Is(err, jetstreamext.ErrBatchUnsupported) {
			// None has an entry, or the stream has no direct gets: each
			// is loaded alone.
			return nil
		}
		if err != nil {
			return fmt.Errorf("poller: load %d customers: %w", len(subjects), err)
		}
		i, ok := own[m.Subject]
		if !ok {
			continue
		}
		sv, err := entryState(cs[i].id, m)
		if err != nil {
			return err
		}
		entries[i] = &sv
	}
	return nil
}

// entryState is the saved state in a customer's c.<id key> entry m.
func entryState(id string, m *jetstream.RawStreamMsg) (saved, error) {
	sv := saved{rev: m.Sequence}
	var err error
	if ev := m.Header.Get(hdrEventSeq); ev != "" {
		if sv.eventSeq, err = strconv.ParseUint(ev, 10, 64); err != nil {
			return saved{}, fmt.Errorf("poller: load %s: %s %q: %w", id, hdrEventSeq, ev, err)
		}
	}
	if isDeleteMarker(m.Header) {
		return sv, nil // deleted
	}
	sv.record = m.Data
	sv.oversized = m.Header.Get(hdrOversized) != ""
	if sv.digest, err = strconv.ParseUint(m.Header.Get(hdrDigest), 16, 64); err != nil {
		return saved{}, fmt.Errorf("poller: load %s: %s: %w", id, hdrDigest, err)
	}
	return sv, nil
}

// fromChunk reads the records of cs[is...] from chunk seq, and takes
// each.
func (s *store) fromChunk(ctx context.Context, seq uint64, is []int, cs []change, take func(int, saved)) error {
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return fmt.Errorf("poller: load %d customers from chunk %d: %w", len(is), seq, err)
	}
	want := make(map[string]int, len(is))
	for _, i := range is {
		want[cs[i].id] = i
	}
	err = readChunk(m.Data, func(r chunkRecord) bool {
		if i, ok := want[r.id]; ok {
			take(i, r.saved())
			delete(want, r.id)
		}
		return len(want) > 0
	})
	if err != nil {
		return fmt.Errorf("poller: load from chunk %d: %w", seq, err)
	}
	return nil
}

// entryMsg returns the message that saves a customer's state, as save
// writes it: record as last seen, or, when record is nil, a delete marker;
// a record too large for one NATS message as its sketch, and then
// oversized is true.
func (s *store) entryMsg(id string, record json.RawMessage, digest, eventSeq uint64) (m *nats.Msg, oversized bool, err error) {
	m = nats.NewMsg(s.subjects + idKey(id))
	m.Header.Set(hdrEventSeq, strconv.FormatUint(eventSeq, 10))
	if record == nil {
		m.Header.Set(hdrDeleted, "true")
		return m, false, nil
	}
	m.Header.Set(hdrDigest, fmt.Sprintf("%016x", digest))
	m.Data = record
	limit := int(s.js.Conn().MaxPayload())
	if msgSize(m) <= limit {
		return m, false, nil
	}
	m.Header.Set(hdrOversized, strconv.Itoa(len(record)))
	for _, fields := range []bool{true, false} {
		sk, err := newSketch(record, fields)
		if err != nil {
			return nil, false, fmt.Errorf("poller: save %s: %w", id, err)
		}
		if m.Data = sk; msgSize(m) <= limit {
			return m, true, nil
		}
	}
	return nil, false, fmt.Errorf("poller: save %s: even the sketch of its %d-byte record is too large", id, len(record))
}

// saveAsync starts saving a customer's state, as save does, without
// waiting for the acknowledgement: a wrong-last error on the future means
// errFenced.
func (s *store) saveAsync(id string, record json.RawMessage, digest, eventSeq, rev uint64) (jetstream.PubAckFuture, bool, error) {
	m, oversized, err := s.entryMsg(id, record, digest, eventSeq)
	if err != nil {
		return nil, false, err
	}
	ack, err := s.js.PublishMsgAsync(m, jetstream.WithExpectLastSequencePerSubject(rev))
	if err != nil {
		return nil, false, fmt.Errorf("poller: save %s: %w", id, err)
	}
	return ack, oversized, nil
}
