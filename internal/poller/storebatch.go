package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/gormic/crm-bridge/internal/model"
)

// This file holds the store's writes and reads of many customers at once,
// for a poll's pipeline (pipeline.go). Like store.go, it knows the
// subjects of the poller's state stream.

// multiLastMax is how many subjects one batched direct get asks for: the
// server answers at most 1,024 messages to one.
const multiLastMax = 512

// loadMany returns the saved state of each of cs, as load would, in one
// batched direct get per multiLastMax customers with their own entries;
// for those whose record is in a chunk, in one batched direct get of
// their read model entries per multiLastMax (fromModel), and one get per
// chunk (Workers at once) for those the model did not give. loaded[i] is
// false where cs[i]'s state could not be read so (the index says it has
// an entry, but none came back, or its chunk does not hold it): load that
// one alone. It fails only when NATS does.
func (s *store) loadMany(ctx context.Context, cs []change, workers int) (svs []saved, loaded []bool, err error) {
	svs, loaded = make([]saved, len(cs)), make([]bool, len(cs))
	own := make(map[string]int) // subject → index in cs
	var chunked []int
	for i, c := range cs {
		switch {
		case !c.known:
			loaded[i] = true
		case c.chunk.seq != 0:
			chunked = append(chunked, i)
		default:
			own[s.subjects+idKey(c.id)] = i
		}
	}
	subjects := make([]string, 0, len(own))
	for subj := range own {
		subjects = append(subjects, subj)
	}
	var reads []func(ctx context.Context) error
	for batch := range slices.Chunk(subjects, multiLastMax) {
		reads = append(reads, func(ctx context.Context) error { return s.lastMany(ctx, batch, own, cs, svs, loaded) })
	}
	for batch := range slices.Chunk(chunked, multiLastMax) {
		reads = append(reads, func(ctx context.Context) error { return s.fromModel(ctx, batch, cs, svs, loaded) })
	}
	if err := each(ctx, workers, len(reads), func(ctx context.Context, i int) error { return reads[i](ctx) }); err != nil {
		return nil, nil, err
	}
	chunks := make(map[uint64][]int)
	for _, i := range chunked {
		if !loaded[i] {
			chunks[cs[i].chunk.seq] = append(chunks[cs[i].chunk.seq], i)
		}
	}
	reads = reads[:0]
	for seq, is := range chunks {
		reads = append(reads, func(ctx context.Context) error { return s.fromChunk(ctx, seq, is, cs, svs, loaded) })
	}
	err = each(ctx, workers, len(reads), func(ctx context.Context, i int) error { return reads[i](ctx) })
	return svs, loaded, err
}

// fromModel reads the records of cs[is...], each in a chunk, from their
// read model entries, and takes each whose whole digest is the one the
// chunk holds: the record the chunk holds, but for hash collisions (a
// record is some 600 bytes, a chunk 64 KiB). The rest of its state, its
// last event's sequence, the index keeps (chunkAt). An entry that differs
// (the model may be ahead of the state, after a poller that did not live
// to save it), or that is missing, leaves its customer to fromChunk; so
// does a failed read, the chunks being the state.
func (s *store) fromModel(ctx context.Context, is []int, cs []change, svs []saved, loaded []bool) error {
	keys := make([]string, len(is))
	want := make(map[string]int, len(is))
	for j, i := range is {
		keys[j] = model.Key(cs[i].id)
		want[keys[j]] = i
	}
	err := lastModelMany(ctx, s.reads, keys, func(key string, value []byte) {
		i, ok := want[key]
		if !ok {
			return
		}
		if d, err := wholeDigest(value); err == nil && d == cs[i].chunk.digest {
			svs[i], loaded[i] = saved{record: value, digest: d, eventSeq: cs[i].chunk.eventSeq}, true
		}
	})
	if err != nil {
		return ctx.Err() // the chunks are read instead
	}
	return nil
}

// lastMany reads the last entry of each of subjects (at most
// multiLastMax) into svs. Each goroutine of loadMany writes distinct
// elements of svs and loaded.
func (s *store) lastMany(ctx context.Context, subjects []string, own map[string]int, cs []change, svs []saved, loaded []bool) error {
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
		svs[i], loaded[i] = sv, true
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

// fromChunk reads the records of cs[is...] from chunk seq into svs.
func (s *store) fromChunk(ctx context.Context, seq uint64, is []int, cs []change, svs []saved, loaded []bool) error {
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
			svs[i], loaded[i] = saved{record: r.raw, digest: r.digest, eventSeq: r.eventSeq}, true
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
