package poller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// loadMany reads what load reads, for customers in chunks (a first start
// records them so), with entries of their own (changed since), deleted
// (a delete marker), and unknown to the state.
func TestLoadManyMatchesLoad(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 7})
	r.sim.Seed(40)
	cfg := r.cfg
	cfg.ReconcileInterval = 200 * time.Millisecond
	in := r.start(cfg, nil, nil)
	in.polls(t, 1)
	customers := r.sim.Customers()
	for i, c := range customers[:12] {
		if _, err := r.sim.UpdateCustomer(c.ID, func(c *crm.Customer) { c.LastName = ptr(fmt.Sprint("Batch", i)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.sim.Delete(customers[0].ID); err != nil {
		t.Fatal(err)
	}
	r.waitEvents(12) // 11 updated, 1 deleted
	in.stop(t)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := ensureBucket(ctx, r.js, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := &store{js: r.js, stream: stream}
	x, _, err := st.rebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var cs []change
	for _, c := range append(customers, crm.Customer{ID: "never-seen"}) {
		h := x.hash(c.ID)
		e, known := x.m[h]
		cs = append(cs, change{id: c.ID, h: h, known: known || c.ID == customers[0].ID, chunk: x.chunkSeq(e)})
	}
	svs, loaded, err := st.loadMany(ctx, cs, 4)
	if err != nil {
		t.Fatal(err)
	}
	chunked := 0
	for i, c := range cs {
		if !loaded[i] {
			t.Errorf("%s: not loaded", c.id)
			continue
		}
		if c.chunk != 0 {
			chunked++
		}
		want := saved{}
		if c.known {
			if want, err = st.load(ctx, c.id, c.chunk); err != nil {
				t.Fatal(err)
			}
		}
		got := svs[i]
		if string(got.record) != string(want.record) || got.digest != want.digest || got.eventSeq != want.eventSeq ||
			got.rev != want.rev || got.oversized != want.oversized {
			t.Errorf("%s: got %+v, want %+v", c.id, got, want)
		}
	}
	if chunked == 0 || chunked == len(cs)-1 {
		t.Errorf("%d of %d customers in chunks, want some and not all", chunked, len(cs))
	}
}
