package poller

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// This file holds the pipeline's tail: the round whose read model entries
// are on their way while the next round reads and publishes (pipeline.go),
// and the clock that times a round's steps.

// tail is the pipeline round whose read model entries are on their way:
// its state is saved once they are acknowledged, when the next round
// has published its events (join).
type tail struct {
	n      int // the round's customers, with and without writes
	fs     []*flight
	models modelBatch
	hs     map[idHash]struct{} // the round's customers
	clock  stepClock
}

// holds reports whether a customer of cs is one of t's.
func (t *tail) holds(cs []change) bool {
	return slices.ContainsFunc(cs, func(c change) bool { return t.has(c.h) })
}

// has reports whether customer h is one of t's.
func (t *tail) has(h idHash) bool {
	if t == nil {
		return false
	}
	_, ok := t.hs[h]
	return ok
}

// sendModels starts writing the read model entries of fs, a round whose
// events are stored, and makes it the pass's tail.
func (ps *pass) sendModels(n int, fs []*flight, clock stepClock) error {
	t := &tail{n: n, fs: fs, hs: make(map[idHash]struct{}, len(fs)), clock: clock}
	for _, f := range fs {
		t.hs[f.c.h] = struct{}{}
		// A saved record read from a chunk keeps the whole chunk: the
		// tail keeps a copy of the event's before alone, while the next
		// round's chunks are read.
		f.sv.record = nil
		f.ev.Before = bytes.Clone(f.ev.Before)
	}
	ps.tail = t
	for _, f := range fs {
		if err := t.models.put(ps, f.c.id, f.c.raw); err != nil {
			return err // the pass ends: catch-up finds its events
		}
	}
	return nil
}

// join ends the tail, if any: it waits for its read model entries, saves
// its state and counts each customer as done; it returns the customers
// whose state another writer saved first, for apply.
func (ps *pass) join(ctx context.Context) ([]change, error) {
	t := ps.tail
	if t == nil {
		return nil, nil
	}
	ps.tail = nil
	t.clock.last = time.Now()
	if err := t.models.wait(ctx); err != nil {
		return nil, err
	}
	t.clock.step("model")
	slow, err := ps.saveAll(ctx, t.fs, nil)
	if err != nil {
		return nil, err
	}
	t.clock.step("state")
	c := &t.clock
	us := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	ps.p.log.Debug("pipeline round", "customers", t.n, "writes", len(t.fs), "load", us(c.took[0]),
		"events", us(c.took[1]), "model", us(c.took[2]), "state", us(c.took[3]))
	return slow, nil
}

// settle ends the tail, if any, and applies one by one the customers
// whose state another writer saved first.
func (ps *pass) settle(ctx context.Context) error {
	slow, err := ps.join(ctx)
	if err != nil {
		return err
	}
	return ps.applySlow(ctx, slow, ps.p.cfg.Now())
}

// refresh sets, for each of cs, what the index now says of its saved
// state, after the round that saved it ended.
func (ps *pass) refresh(cs []change) {
	for i := range cs {
		if known, chunk := ps.x.saved(cs[i].h); known {
			cs[i].known, cs[i].chunk = true, chunk
		}
	}
}

// stepClock times the steps of one round of the pipeline, in
// crm_bridge_poller_step_seconds and for its debug line.
type stepClock struct {
	m    *prometheus.HistogramVec
	last time.Time
	took [4]time.Duration // load, events, model, state
	n    int
}

// step ends the current step, named step, and starts the next.
func (c *stepClock) step(name string) {
	now := time.Now()
	d := now.Sub(c.last)
	c.last = now
	c.took[c.n] = d
	c.n++
	c.m.WithLabelValues(name).Observe(d.Seconds())
}
