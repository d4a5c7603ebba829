package poller

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/testlog"
)

// modelWriting is a poller that writes the read model and does nothing
// else, the bucket it writes, and another connection's view of it.
type modelWriting struct {
	t     *testing.T
	p     *Poller
	kv    jetstream.KeyValue // the poller's connection
	other jetstream.KeyValue // another connection's
	js    jetstream.JetStream
}

func newModelWriting(t *testing.T) *modelWriting {
	t.Helper()
	srv := natstest.Server(t)
	_, js := natstest.Connect(t, srv)
	_, otherJS := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, _, err := model.Ensure(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := otherJS.KeyValue(ctx, model.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(js, nil, Config{Prefix: "crm", OrgID: testOrg, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &modelWriting{t: t, p: p, kv: kv, other: other, js: js}
}

// batch returns a batch of entries: id, value pairs; an empty value
// deletes the id's entry.
func (mw *modelWriting) batch(pairs ...string) *modelBatch {
	b := &modelBatch{}
	for i := 0; i < len(pairs); i += 2 {
		var rec json.RawMessage
		if pairs[i+1] != "" {
			rec = json.RawMessage(pairs[i+1])
		}
		b.msgs = append(b.msgs, mw.p.modelMsg(pairs[i], rec))
	}
	return b
}

// write sends b and waits for it; it fails the test on an error.
func (mw *modelWriting) write(b *modelBatch, checked bool) {
	mw.t.Helper()
	if err := b.send(mw.p); err != nil {
		mw.t.Fatal(err)
	}
	if b.checked != checked {
		mw.t.Fatalf("batch of %d sent checked %v; want %v", len(b.msgs), b.checked, checked)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.wait(ctx, mw.p); err != nil {
		mw.t.Fatal(err)
	}
}

// has fails the test unless every id, value pair is the bucket's entry
// ("": none).
func (mw *modelWriting) has(pairs ...string) {
	mw.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < len(pairs); i += 2 {
		e, err := mw.other.Get(ctx, model.Key(pairs[i]))
		switch {
		case pairs[i+1] == "" && err == nil:
			mw.t.Errorf("%s: got %s, want no entry", pairs[i], e.Value())
		case pairs[i+1] == "":
		case err != nil:
			mw.t.Errorf("%s: %v, want %s", pairs[i], err, pairs[i+1])
		case string(e.Value()) != pairs[i+1]:
			mw.t.Errorf("%s: got %s, want %s", pairs[i], e.Value(), pairs[i+1])
		}
	}
}

// knows fails the test unless the writer knows the model stream's last
// sequence, and it is the stream's.
func (mw *modelWriting) knows() {
	mw.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := mw.js.Stream(ctx, modelStream)
	if err != nil {
		mw.t.Fatal(err)
	}
	w := &mw.p.modelw
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.known || w.last != st.CachedInfo().State.LastSeq {
		mw.t.Fatalf("writer: known %v, last %d; want the stream's last sequence %d", w.known, w.last, st.CachedInfo().State.LastSeq)
	}
}

// resent fails the test unless n batches were sent again.
func (mw *modelWriting) resent(n float64) {
	mw.t.Helper()
	if got := counterValue(mw.t, mw.p.metrics.modelResent); got != n {
		mw.t.Fatalf("batches sent again: %v, want %v", got, n)
	}
}

// A batch is acknowledged entry by entry until the writer learned the
// model stream's last sequence; after that it is checked: one
// acknowledgement, for its last entry. The poller's own single writes
// keep what the writer knows.
func TestModelBatchesChecked(t *testing.T) {
	mw := newModelWriting(t)
	mw.write(mw.batch("a", `{"id":"a"}`, "b", `{"id":"b"}`, "c", `{"id":"c"}`), false)
	mw.knows()
	mw.write(mw.batch(), false) // an empty batch: nothing sent, nothing learnt
	mw.knows()
	mw.write(mw.batch("a", `{"id":"a","n":2}`, "d", `{"id":"d"}`, "b", ""), true)
	mw.has("a", `{"id":"a","n":2}`, "b", "", "c", `{"id":"c"}`, "d", `{"id":"d"}`)
	mw.knows()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mw.p.modelw.put(ctx, mw.js, mw.p.modelMsg("e", json.RawMessage(`{"id":"e"}`))); err != nil {
		t.Fatal(err)
	}
	mw.knows()
	mw.write(mw.batch("e", `{"id":"e","n":2}`), false) // one entry: acknowledged
	mw.write(mw.batch("f", `{"id":"f"}`, "c", ""), true)
	mw.has("c", "", "e", `{"id":"e","n":2}`, "f", `{"id":"f"}`)
	mw.knows()
	mw.write(mw.batch(), false)
	mw.write(mw.batch("g", `{"id":"g"}`, "h", `{"id":"h"}`), true)
	mw.resent(0)
}

// Another writer's entry between two of the poller's batches fails the
// next batch's check: it is sent again, each entry acknowledged, and the
// writer learns the sequence again.
func TestModelBatchAfterForeignWrite(t *testing.T) {
	mw := newModelWriting(t)
	mw.write(mw.batch("a", `{"id":"a"}`, "b", `{"id":"b"}`), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := mw.other.Put(ctx, model.Key("x"), []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	mw.write(mw.batch("a", `{"id":"a","n":2}`, "c", `{"id":"c"}`), true)
	mw.resent(1)
	mw.has("a", `{"id":"a","n":2}`, "b", `{"id":"b"}`, "c", `{"id":"c"}`, "x", `{"id":"x"}`)
	mw.knows()
	mw.write(mw.batch("b", `{"id":"b","n":2}`, "d", `{"id":"d"}`), true)
	mw.resent(1)
	mw.has("b", `{"id":"b","n":2}`, "d", `{"id":"d"}`)
}

// Batches sent one after another before either is waited for (a first
// start's pages) are sent again in their order when their checks fail,
// so that a customer in both ends with the later batch's record.
func TestModelBatchesResentInOrder(t *testing.T) {
	mw := newModelWriting(t)
	mw.write(mw.batch("a", `{"id":"a"}`, "b", `{"id":"b"}`), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := mw.other.Put(ctx, model.Key("x"), []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	first := mw.batch("k", `{"id":"k","n":1}`, "a", `{"id":"a","n":2}`)
	second := mw.batch("k", `{"id":"k","n":2}`, "b", `{"id":"b","n":2}`)
	for _, b := range []*modelBatch{first, second} {
		if err := b.send(mw.p); err != nil || !b.checked {
			t.Fatalf("send: %v, checked %v; want checked", err, b.checked)
		}
	}
	for _, b := range []*modelBatch{first, second} {
		if err := b.wait(ctx, mw.p); err != nil {
			t.Fatal(err)
		}
	}
	mw.resent(2)
	mw.has("k", `{"id":"k","n":2}`, "a", `{"id":"a","n":2}`, "b", `{"id":"b","n":2}`)
	mw.knows()
}

// An entry the server refuses without a word (it was sent without a
// reply) fails the batch's check; sent again, acknowledged, its refusal
// is the batch's error: the pass fails instead of saving a state the
// model does not hold.
func TestModelBatchEntryRefused(t *testing.T) {
	mw := newModelWriting(t)
	mw.write(mw.batch("a", `{"id":"a"}`, "b", `{"id":"b"}`), false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := mw.js.Stream(ctx, modelStream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgSize = 100
	if _, err := mw.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	big := `{"id":"b","note":"` + strings.Repeat("x", 200) + `"}`
	b := mw.batch("a", `{"id":"a","n":2}`, "b", big, "c", `{"id":"c"}`)
	if err := b.send(mw.p); err != nil || !b.checked {
		t.Fatalf("send: %v, checked %v; want checked", err, b.checked)
	}
	err = b.wait(ctx, mw.p)
	if err == nil || !strings.Contains(err.Error(), "maximum") {
		t.Fatalf("wait: %v; want the server's refusal of the large entry", err)
	}
	mw.resent(1)
	mw.has("a", `{"id":"a","n":2}`, "b", `{"id":"b"}`, "c", `{"id":"c"}`)
	w := &mw.p.modelw
	if w.known {
		t.Error("the writer still claims to know the stream's last sequence after a failed batch")
	}
}
