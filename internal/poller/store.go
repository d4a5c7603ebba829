package poller

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// StateStream is the stream the poller owns for its state: the cursor,
// and every customer as last seen. It keeps the last message of each
// subject (MaxMsgsPerSubject 1), under <prefix>.bridge.poller.state.<key>
// (stateSubjects), with keys:
//
//	cursor      the cursor (JSON, see cursor)
//	c.<id key>  one customer as last seen: the record as the CRM sent it,
//	            or a delete marker (header Poller-Deleted) once the
//	            customer is gone
//	b.<nuid>    a chunk: customers first seen together in bulk (a first
//	            start), as last seen until each has a c.<id key> entry
//
// An id key is the customer id itself when it holds only letters, digits,
// '_' and '-', and otherwise '=' followed by the id in unpadded base64url.
// Every write but a chunk's is conditional on its subject's last sequence,
// and a chunk's is conditional on the cursor's, so that a poller that lost
// its lease without knowing cannot overwrite what the next one saved. It is
// used only through the stream and publish API; until this version the
// state was the key-value bucket legacyStateBucket (migrate.go).
const StateStream = "CRM_POLLER"

// LeaseBucket holds the poller's lease, key "poller"; its entries expire
// after Config.LeaseTTL.
const LeaseBucket = "crm_bridge_poller_lease"

// stateSubjects returns the prefix of StateStream's subjects: a key's
// subject is it followed by the key.
func stateSubjects(prefix string) string { return prefix + ".bridge.poller.state." }

// Headers of the state entries.
const (
	hdrDigest   = "Poller-Digest"    // c.<id>: the record's digest (wholeDigest), 16 hex digits
	hdrEventSeq = "Poller-Event-Seq" // c.<id>: the stream sequence of the customer's last event, 0 for none
	hdrDeleted  = "Poller-Deleted"   // c.<id>: "true" on a delete marker, which has no body
)

// cursorKey is the cursor's key.
const cursorKey = "cursor"

// chunkMax is the most bytes of records a chunk holds (before its own
// framing); smaller when the server's max_payload is.
const chunkMax = 64 << 10

// idKey returns the state key of a customer id.
func idKey(id string) string {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return "c.=" + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	if id == "" {
		return "c.="
	}
	return "c." + id
}

// keyID returns the customer id of a state key made by idKey.
func keyID(key string) (string, error) {
	k, ok := strings.CutPrefix(key, "c.")
	if !ok {
		return "", fmt.Errorf("poller: %q is not a customer key", key)
	}
	if enc, ok := strings.CutPrefix(k, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return "", fmt.Errorf("poller: customer key %q: %w", key, err)
		}
		return string(b), nil
	}
	return k, nil
}

// cursor is where polling goes on from, saved after each complete pass.
type cursor struct {
	// Since is the greatest updatedAt seen in complete, stable passes, as
	// the CRM wrote it; the next poll asks for what changed since then,
	// less the overlap.
	Since string `json:"since,omitempty"`
	// Initialized is set once a first complete, stable pass recorded the
	// customers that existed; until then new customers are recorded
	// silently (or with created events, Config.InitialEvents).
	Initialized bool `json:"initialized"`
	// ReconciledAt is when the last complete export that could find
	// deleted customers started (the bridge's clock).
	ReconciledAt time.Time `json:"reconciledAt,omitzero"`
	// EventSeq is a sequence of the events stream up to which every
	// event a poller published is in the state: the stream's last sequence
	// when the last complete pass started. A poller that becomes active
	// replays the events after it (catchUp), which a poller that died
	// between publishing and saving left unsaved.
	EventSeq uint64 `json:"eventSeq,omitempty"`
	// Owner is the process that wrote it.
	Owner string `json:"owner,omitempty"`
}

// saved is one customer as the state holds it.
type saved struct {
	// record is the customer as last seen; nil when never seen or deleted.
	record json.RawMessage
	// digest is record's wholeDigest.
	digest uint64
	// eventSeq is the stream sequence of the customer's last event, 0 for
	// none: the expected last sequence of its next event's subject.
	eventSeq uint64
	// rev is the sequence of the customer's c.<id key> entry, 0 for none:
	// the expected last sequence of the next write.
	rev uint64
	// behind is set when record is not the entry's but the after of the
	// customer's last event, published by a poller that did not live to
	// save it: the entry must be brought up to it even if nothing changed
	// since.
	behind bool
	// oversized is set when record is not the customer's record but a
	// sketch of it (oversized.go): the record was too large for the state.
	// digest is still the record's.
	oversized bool
}

// store reads and writes the state, StateStream.
type store struct {
	js     jetstream.JetStream
	stream jetstream.Stream // StateStream
	// reads carries loadMany's batched reads (Config.Reads): js, or the
	// same server over a connection of its own.
	reads jetstream.JetStream
	// subjects is stateSubjects(prefix): a key's subject is subjects+key.
	subjects string
	owner    string
	// grace is how long loadMany waits for the entries of customers in
	// chunks once the rest is in: entriesGrace, longer in tests.
	grace time.Duration
}

// newStore returns the store of the state in stream, under prefix.
func newStore(js jetstream.JetStream, stream jetstream.Stream, prefix, owner string) *store {
	return &store{js: js, reads: js, stream: stream, subjects: stateSubjects(prefix), owner: owner, grace: entriesGrace}
}

// errFenced is returned when a compare-and-set write finds that someone
// else wrote first: another poller, or this one before a crash.
var errFenced = errors.New("state changed by another poller")

// isWrongLast reports whether err is JetStream's answer to a publish whose
// expected last sequence did not hold (10071, or 10164 on a replicated
// stream).
func isWrongLast(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// stateConfig is StateStream's configuration.
func stateConfig(prefix string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              StateStream,
		Description:       "crm-bridge change poller: cursor and customers as last seen",
		Subjects:          []string{stateSubjects(prefix) + ">"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		AllowDirect:       true,
	}
}

// ensureState creates StateStream, or updates it where its subjects or
// replicas differ from stateConfig's.
func ensureState(ctx context.Context, js jetstream.JetStream, prefix string, replicas int) (jetstream.Stream, error) {
	want := stateConfig(prefix, replicas)
	if st, err := js.Stream(ctx, StateStream); err == nil {
		have := st.CachedInfo().Config
		if have.Replicas == replicas && slices.Equal(have.Subjects, want.Subjects) && have.MaxMsgsPerSubject == 1 {
			return st, nil // no update: several processes start at once
		}
	}
	st, err := js.CreateOrUpdateStream(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("poller: state stream %s: %w", StateStream, err)
	}
	return st, nil
}

// lastMsg returns the last message on subject in stream, or nil when there
// is none.
func lastMsg(ctx context.Context, stream jetstream.Stream, subject string) (*jetstream.RawStreamMsg, error) {
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	return m, err
}

// cursor returns the saved cursor and its revision (0: none).
func (s *store) cursor(ctx context.Context) (cursor, uint64, error) {
	m, err := lastMsg(ctx, s.stream, s.subjects+cursorKey)
	if err != nil || m == nil {
		return cursor{}, 0, err
	}
	var c cursor
	if err := json.Unmarshal(m.Data, &c); err != nil {
		return cursor{}, 0, fmt.Errorf("poller: saved cursor: %w", err)
	}
	return c, m.Sequence, nil
}

// saveCursor writes c if the cursor is still at rev; it returns the new
// revision, or errFenced.
func (s *store) saveCursor(ctx context.Context, c cursor, rev uint64) (uint64, error) {
	c.Owner = s.owner
	b, err := json.Marshal(c)
	if err != nil {
		return 0, err
	}
	ack, err := s.js.Publish(ctx, s.subjects+cursorKey, b, jetstream.WithExpectLastSequencePerSubject(rev))
	if isWrongLast(err) {
		return 0, errFenced
	}
	if err != nil {
		return 0, fmt.Errorf("poller: save cursor: %w", err)
	}
	return ack.Sequence, nil
}

// load returns a customer's saved state: whichever of its c.<id key>
// entry and its record in chunk (0: none) was written last, with the
// entry's revision either way.
func (s *store) load(ctx context.Context, id string, chunk uint64) (saved, error) {
	m, err := lastMsg(ctx, s.stream, s.subjects+idKey(id))
	if err != nil {
		return saved{}, fmt.Errorf("poller: load %s: %w", id, err)
	}
	if m != nil && laterThanChunk(m.Sequence, chunk) {
		return entryState(id, m)
	}
	if chunk == 0 {
		return saved{}, nil
	}
	sv, err := s.fromChunkAlone(ctx, id, chunk)
	if m != nil {
		sv.rev = m.Sequence
	}
	return sv, err
}

// fromChunkAlone returns customer id's saved state in chunk.
func (s *store) fromChunkAlone(ctx context.Context, id string, chunk uint64) (saved, error) {
	cm, err := s.stream.GetMsg(ctx, chunk)
	if err != nil {
		return saved{}, fmt.Errorf("poller: load %s from chunk %d: %w", id, chunk, err)
	}
	var sv saved
	found := false
	err = readChunk(cm.Data, func(r chunkRecord) bool {
		if r.id == id {
			sv = r.saved()
			found = true
			return false
		}
		return true
	})
	if err != nil {
		return saved{}, fmt.Errorf("poller: load %s from chunk %d: %w", id, chunk, err)
	}
	if !found {
		return saved{}, fmt.Errorf("poller: load %s: not in chunk %d", id, chunk)
	}
	return sv, nil
}

// save writes a customer's state if its entry is still at rev: record as
// last seen, or, when record is nil, a delete marker. eventSeq is the
// sequence of its last event. A record too large for one NATS message is
// saved as its sketch (oversized.go), with header Poller-Oversized. It
// returns the entry's new revision and whether it holds a sketch, or
// errFenced.
func (s *store) save(ctx context.Context, id string, record json.RawMessage, digest, eventSeq, rev uint64) (uint64, bool, error) {
	m, oversized, err := s.entryMsg(id, record, digest, eventSeq)
	if err != nil {
		return 0, false, err
	}
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(rev))
	if isWrongLast(err) {
		return 0, false, errFenced
	}
	if err != nil {
		return 0, false, fmt.Errorf("poller: save %s: %w", id, err)
	}
	return ack.Sequence, oversized, nil
}

// scan calls f with every message of the state under key filter (last
// per subject) and its key, in stream order, with headers only when
// headersOnly. It reads what was there when it started.
func (s *store) scan(ctx context.Context, filter string, headersOnly bool, f func(key string, m jetstream.Msg) error) error {
	return scanLast(ctx, s.js, StateStream, s.subjects, filter, headersOnly, f)
}

// scanLast calls f with the last message of every subject of stream that
// is prefix followed by filter, and with its key (the subject without
// prefix), in stream order, with headers only when headersOnly. It reads
// through an ordered consumer what was there when it started.
func scanLast(ctx context.Context, js jetstream.JetStream, stream, prefix, filter string, headersOnly bool, f func(key string, m jetstream.Msg) error) error {
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + filter},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		HeadersOnly:    headersOnly,
	})
	if err != nil {
		return fmt.Errorf("poller: scan %s %s: %w", stream, filter, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("poller: scan %s %s: %w", stream, filter, err)
	}
	if info.NumPending == 0 {
		return nil
	}
	it, err := c.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("poller: scan %s %s: %w", stream, filter, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("poller: scan %s %s: %w", stream, filter, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("poller: scan %s %s: %w", stream, filter, err)
		}
		if err := f(strings.TrimPrefix(m.Subject(), prefix), m); err != nil {
			return err
		}
		if meta.NumPending == 0 {
			return nil
		}
	}
}

// isDeleteMarker reports whether a state entry's headers are a delete
// marker's.
func isDeleteMarker(h nats.Header) bool {
	return h.Get(hdrDeleted) != ""
}

// publishChunk publishes a sealed chunk under a new key, conditional on the
// cursor being still at cursorRev (the cursor this poller claimed).
func (s *store) publishChunk(data []byte, cursorRev uint64) (jetstream.PubAckFuture, error) {
	m := nats.NewMsg(s.subjects + "b." + nuid.Next())
	m.Data = data
	ack, err := s.js.PublishMsgAsync(m, jetstream.WithExpectLastSequenceForSubject(cursorRev, s.subjects+cursorKey))
	if err != nil {
		return nil, fmt.Errorf("poller: publish chunk: %w", err)
	}
	return ack, nil
}
