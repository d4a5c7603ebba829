package poller

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// legacyWriter writes the poller's state as the versions before
// StateStream did (store.go until then): into the key-value bucket
// crm_bridge_poller, through the raw subjects of its keys, a delete
// marker being an entry with header KV-Operation: DEL and no body.
type legacyWriter struct {
	js jetstream.JetStream
}

// newLegacyWriter creates the bucket as the former version did.
func newLegacyWriter(t testing.TB, js jetstream.JetStream) *legacyWriter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      legacyStateBucket,
		Description: "crm-bridge change poller: cursor and customers as last seen",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
	}); err != nil {
		t.Fatal(err)
	}
	return &legacyWriter{js: js}
}

// put writes one entry: the cursor, a chunk, a customer's record (with
// its Poller-Digest and Poller-Event-Seq) or, deleted, its delete marker
// (Poller-Event-Seq and KV-Operation: DEL).
func (w *legacyWriter) put(t testing.TB, key string, h nats.Header, data []byte, deleted bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := nats.NewMsg(legacyPrefix + key)
	for k, v := range h {
		m.Header[k] = v
	}
	if deleted {
		m.Header.Set(kvOperation, "DEL")
	} else {
		m.Data = data
	}
	if _, err := w.js.PublishMsg(ctx, m); err != nil {
		t.Fatalf("legacy put %s: %v", key, err)
	}
}

// toLegacy moves the poller's state, as a poller of this version saved it
// in StateStream, into the former version's bucket, in the same order,
// and removes StateStream: the state an upgraded bridge finds. It returns
// how many chunks and customer entries (delete markers among them) it
// wrote.
func toLegacy(t testing.TB, js jetstream.JetStream) (chunks, entries, deleted int) {
	t.Helper()
	w := newLegacyWriter(t, js)
	prefix := stateSubjects("crm")
	var gone string // a deleted customer's key
	for _, m := range natstest.Messages(t, js, StateStream, prefix+">") {
		key := strings.TrimPrefix(m.Subject(), prefix)
		h := nats.Header{}
		for _, k := range []string{hdrDigest, hdrEventSeq, hdrOversized} {
			if v := m.Headers().Get(k); v != "" {
				h.Set(k, v)
			}
		}
		del := isDeleteMarker(m.Headers())
		w.put(t, key, h, m.Data(), del)
		switch {
		case strings.HasPrefix(key, "b."):
			chunks++
		case strings.HasPrefix(key, "c."):
			entries++
			if del {
				deleted++
				gone = key
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// What the key-value API makes of it: the subjects and the delete
	// marker are the bucket's own.
	kv, err := js.KeyValue(ctx, legacyStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, cursorKey); err != nil {
		t.Fatalf("legacy bucket: get cursor: %v", err)
	}
	if gone != "" {
		if _, err := kv.Get(ctx, gone); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("legacy bucket: get %s: got %v, want %v", gone, err, jetstream.ErrKeyNotFound)
		}
	}
	if err := js.DeleteStream(ctx, StateStream); err != nil {
		t.Fatal(err)
	}
	return chunks, entries, deleted
}

// TestMigrateLegacyState: a bridge upgraded on the state of the former
// version (the bucket crm_bridge_poller, with chunks of a first start,
// customers' own entries and delete markers) copies it into StateStream
// and goes on from it: the changes made while no poller ran, to customers
// in chunks and to customers with their own entries, come out once each,
// from the records last seen; nothing before the upgrade comes again.
// With crash, the first migration stops dead after a few entries and the
// next one copies everything again over them.
func TestMigrateLegacyState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash int // stop the first migration after this many entries; 0: never
	}{
		{name: "whole", crash: 0},
		{name: "crash", crash: 3},
	} {
		t.Run(tc.name, func(t *testing.T) { testMigrateLegacyState(t, tc.crash) })
	}
}

func testMigrateLegacyState(t *testing.T, crash int) {
	r := newRig(t, crmsim.Options{PageSize: 100})
	r.sim.Seed(600)
	cfg := r.cfg
	cfg.ReconcileInterval = 300 * time.Millisecond
	first := pgRecords(r.sim) // as the first start records them

	// The former version's life: a silent first start (chunks), then
	// changes (customers' own entries, a delete marker).
	old := r.start(cfg, nil, nil)
	old.polls(t, 1)
	seeded := r.sim.Customers()
	for _, c := range seeded[:5] {
		pgUpdate(t, r.sim, c.ID, func(c *crm.Customer) { c.LastName = ptr("Before") })
	}
	if err := r.sim.Delete(seeded[5].ID); err != nil {
		t.Fatal(err)
	}
	var created []string
	for i, phone := range []string{"+44 20 7946 0101", "+44 20 7946 0102"} {
		c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Old" + string(rune('A'+i)), Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, c.ID)
	}
	const before = 8 // 5 updated, 1 deleted, 2 created
	r.waitEvents(before)
	old.polls(t, 2)
	old.stop(t)
	chunks, entries, deleted := toLegacy(t, r.js)
	if chunks < 2 || entries != 8 || deleted != 1 {
		t.Fatalf("legacy state: got %d chunks, %d entries (%d deleted); want 2 chunks or more, 8 entries, 1 deleted", chunks, entries, deleted)
	}
	legacy, err := r.js.Stream(context.Background(), legacyStateStream)
	if err != nil {
		t.Fatal(err)
	}
	legacyLast := legacy.CachedInfo().State.LastSeq

	// While no poller runs: changes to customers in chunks and with their
	// own entries, a delete of each kind, a create and a touch.
	pgUpdate(t, r.sim, seeded[10].ID, func(c *crm.Customer) { c.LastName = ptr("InChunk") })
	pgUpdate(t, r.sim, seeded[0].ID, func(c *crm.Customer) { c.LastName = ptr("Again") })
	for _, id := range []string{seeded[11].ID, created[0]} {
		if err := r.sim.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "New", Phone: "+44 20 7946 0103"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sim.Touch(seeded[12].ID); err != nil {
		t.Fatal(err)
	}
	const after = 5 // 2 updated, 2 deleted, 1 created

	var copied, crashed atomic.Int64
	next := r.start(cfg, nil, func(p *Poller) {
		p.afterMigrated = func(n int) error {
			copied.Add(1)
			if n == crash && crashed.Add(1) == 1 {
				return errors.New("crash")
			}
			return nil
		}
	})
	r.waitEvents(before + after)
	next.polls(t, 8) // reconciles among them: nothing further
	events := r.events()
	if len(events) != before+after {
		for _, e := range events {
			t.Logf("%d %s %s %v", e.seq, e.Change, e.CustomerID, e.Fields)
		}
		t.Fatalf("got %d events, want %d", len(events), before+after)
	}
	pgChains(t, events, first, pgRecords(r.sim), false)
	r.waitModel()

	want := int64(chunks + entries)
	if crash > 0 {
		want += int64(crash)
	}
	if got := copied.Load(); got != want {
		t.Errorf("copied %d entries, want %d", got, want)
	}
	// The bucket is left as it was, for a former version that takes the
	// lease later.
	info, err := legacy.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != legacyLast {
		t.Errorf("legacy bucket: last sequence %d, want %d (untouched)", info.State.LastSeq, legacyLast)
	}
	if n := natstest.Count(r.js, StateStream, stateSubjects("crm")+"cursor"); n != 1 {
		t.Errorf("%s holds %d cursors, want 1", StateStream, n)
	}

	// Once migrated, never again.
	next.stop(t)
	copied.Store(0)
	again := r.start(cfg, nil, func(p *Poller) {
		p.afterMigrated = func(int) error { copied.Add(1); return nil }
	})
	again.polls(t, 2)
	if n := copied.Load(); n != 0 {
		t.Errorf("a restart migrated %d entries again, want none", n)
	}
	if n := r.count(); n != before+after {
		t.Errorf("after a restart: %d events, want %d", n, before+after)
	}
}

// TestMigrateNothing: without the former bucket, or with one that holds
// no cursor, a poller makes a first start.
func TestMigrateNothing(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.sim.Seed(5)
	newLegacyWriter(t, r.js).put(t, "c.orphan", nats.Header{hdrDigest: {"0000000000000001"}, hdrEventSeq: {"0"}}, json.RawMessage(`{"id":"orphan"}`), false)
	var copied atomic.Int64
	in := r.start(r.cfg, nil, func(p *Poller) {
		p.afterMigrated = func(int) error { copied.Add(1); return nil }
	})
	in.polls(t, 1)
	if n := copied.Load(); n != 0 {
		t.Errorf("migrated %d entries of a bucket without cursor, want none", n)
	}
	if n := r.count(); n != 0 {
		t.Errorf("a first start published %d events, want none", n)
	}
	r.waitModel()
}
