package poller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// A round of many changes (a bulk change in the CRM) saves its records in
// chunks, each with its event's sequence, instead of an entry per
// customer. Of a customer's entry and chunk, the one written last is its
// state: a chunk supersedes the entries written before it, and an entry
// written after a chunk supersedes it, in the poller that wrote them and
// in one that takes over. Chunks the bulk change left sparse are moved
// into a new one and deleted. Every customer's events form a chain
// throughout, and none is published twice.
func TestBulkChangeSavedInChunks(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 1000})
	r.sim.Seed(300)
	first, err := r.crmRecords()
	if err != nil {
		t.Fatal(err)
	}
	entries := func() int { return natstest.Count(r.js, StateStream, stateSubjects("crm")+"c.>") }
	update := func(cs []crm.Customer, name string) {
		t.Helper()
		for _, c := range cs {
			if _, err := r.sim.UpdateCustomer(c.ID, func(c *crm.Customer) { c.LastName = ptr(name) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	// takeOver makes the changes of f while no poller runs, then starts
	// one, which finds them in its first poll, and waits for it to end.
	n := 0
	takeOver := func(in *instance, changed int, f func()) *instance {
		t.Helper()
		in.stop(t)
		f()
		in = r.start(r.cfg, nil, nil)
		n += changed
		r.waitEvents(n)
		in.polls(t, 1)
		return in
	}

	in := r.start(r.cfg, nil, nil)
	in.polls(t, 1) // a first start: chunks
	cs := r.sim.Customers()
	var bulk, alone, kept []crm.Customer
	for i, c := range cs {
		switch {
		case i%20 == 0:
			kept = append(kept, c) // left in the first start's chunks
		case len(alone) < 5:
			alone = append(alone, c)
			fallthrough
		default:
			bulk = append(bulk, c)
		}
	}

	in = takeOver(in, len(alone), func() { update(alone, "Alone") })
	if got := entries(); got != len(alone) {
		t.Fatalf("got %d customer entries after %d changes alone, want %d", got, len(alone), len(alone))
	}
	in = takeOver(in, len(bulk), func() { update(bulk, "Bulk") })
	if got := entries(); got != len(alone) {
		t.Errorf("got %d customer entries after a bulk change of %d, want %d: its records go in chunks", got, len(bulk), len(alone))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, x := rebuilt(ctx, t, r)
	for _, c := range bulk {
		if x.chunkAt(x.m[x.hash(c.ID)]).seq == 0 {
			t.Errorf("%s: not in a chunk after the bulk change", c.ID)
		}
	}
	for _, c := range x.chunks {
		if c.live*compactShare < c.members {
			t.Errorf("chunk %d: %d of its %d records saved; want it moved", c.seq, c.live, c.members)
		}
	}
	if got, want := natstest.Count(r.js, StateStream, stateSubjects("crm")+"b.>"), len(x.chunks); got != want {
		t.Errorf("got %d chunks in the state, want the %d that hold saved records", got, want)
	}
	checkLoadMany(ctx, t, st, x, cs)
	inBulk := make(map[string]bool)
	for _, c := range bulk {
		inBulk[c.ID] = true
	}
	for _, m := range natstest.Messages(t, r.js, StateStream, stateSubjects("crm")+"b.>") {
		known := false
		if err := readChunk(m.Data(), func(r chunkRecord) bool { known = known || inBulk[r.id]; return true }); err != nil {
			t.Fatal(err)
		}
		if v := m.Data()[0]; known && v != chunkLater {
			t.Errorf("a chunk of customers known before: version %d, want %d (unreadable to former versions)", v, chunkLater)
		}
	}

	// Changes alone after the chunks: entries again, whether the customer
	// had one before (its revision comes from under the chunk) or not.
	again := append(append([]crm.Customer{}, alone[:2]...), bulk[len(bulk)-1], kept[0])
	in = takeOver(in, len(again), func() { update(again, "Again") })
	if got, want := entries(), len(alone)+2; got != want {
		t.Errorf("got %d customer entries, want %d", got, want)
	}
	st, x = rebuilt(ctx, t, r)
	checkLoadMany(ctx, t, st, x, cs)
	in = takeOver(in, len(again), func() { update(again, "Last") })
	in.stop(t)

	last, err := r.crmRecords()
	if err != nil {
		t.Fatal(err)
	}
	events := r.events()
	if len(events) != n {
		t.Errorf("got %d events, want %d", len(events), n)
	}
	pgChains(t, events, first, last, true)
}

// checkLoadMany checks that loadMany reads what load reads of each of
// cs, in x, revision included.
func checkLoadMany(ctx context.Context, t *testing.T, st *store, x *index, cs []crm.Customer) {
	t.Helper()
	st.grace = time.Minute // every entry waited for: the revisions exact
	var chs []change
	for _, c := range cs {
		h := x.hash(c.ID)
		e, known := x.m[h]
		chs = append(chs, change{id: c.ID, h: h, known: known, chunk: x.chunkAt(e)})
	}
	svs, loaded, err := st.loadMany(ctx, chs, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range chs {
		want, err := st.load(ctx, c.id, c.chunk.seq)
		if err != nil {
			t.Fatal(err)
		}
		got := svs[i]
		if !loaded[i] || string(got.record) != string(want.record) || got.digest != want.digest ||
			got.eventSeq != want.eventSeq || got.rev != want.rev {
			t.Errorf("%s: got loaded %v, %s; want %s", c.id, loaded[i], svText(got), svText(want))
		}
	}
}

func svText(sv saved) string {
	return fmt.Sprintf("record %s, digest %x, event %d, rev %d", sv.record, sv.digest, sv.eventSeq, sv.rev)
}
