package poller

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// This file holds the pipeline's tails: the rounds whose writes are on
// their way while the next round is read and published (pipeline.go),
// and the clock that times what a pass waits for.

// Each round goes through three writes, each for all its customers at
// once, and is a tail from its events' publication until its state is
// saved. A round's writes are sent only once the one before is
// acknowledged (its events, then its read model entries, then its
// state), so per customer the order is always event, model, state.
const (
	tailEvents = iota // its events sent
	tailModels        // its events stored, its read model entries sent
	tailStates        // its entries stored, its state sent
)

// tail is a pipeline round whose writes are on their way.
type tail struct {
	n      int // the round's customers, with and without writes
	stage  int // tailEvents, tailModels or tailStates
	fs     []*flight
	models modelBatch
	chunks chunkWriter
	hs     map[idHash]struct{} // the round's customers
	clock  stepClock
}

// tails are a pass's rounds in flight, oldest first: at most one per
// stage, the oldest's state on its way, the newest's events.
type tails []*tail

// holds reports whether a customer of cs is one of ts'.
func (ts tails) holds(cs []change) bool {
	return slices.ContainsFunc(cs, func(c change) bool { return ts.has(c.h) })
}

// has reports whether customer h is one of ts'.
func (ts tails) has(h idHash) bool {
	for _, t := range ts {
		if _, ok := t.hs[h]; ok {
			return true
		}
	}
	return false
}

// fly makes fs, a round whose events are sent, the newest tail.
func (ps *pass) fly(n int, fs []*flight, clock stepClock) {
	t := &tail{n: n, fs: fs, hs: make(map[idHash]struct{}, len(fs)), clock: clock}
	for _, f := range fs {
		t.hs[f.c.h] = struct{}{}
	}
	ps.tails = append(ps.tails, t)
}

// advance takes every tail one stage on, oldest first, and so each waits
// for the writes it sent before it sends the next: the oldest's state
// saved ends it, the next's read model entries stored sends its state,
// the newest's events stored send its entries. It returns the customers
// whose event or state another writer wrote first, for apply.
func (ps *pass) advance(ctx context.Context) (slow []change, err error) {
	keep := ps.tails[:0]
	for i, t := range ps.tails {
		var s []change
		done := false
		switch t.stage {
		case tailEvents:
			s, err = ps.storeEvents(ctx, t)
		case tailModels:
			err = ps.storeModels(ctx, t)
		case tailStates:
			s, err = ps.storeStates(ctx, t)
			done = true
		}
		slow = append(slow, s...)
		if err != nil {
			ps.tails = nil // the pass ends: catch-up finds their events
			return slow, err
		}
		t.stage++
		if !done {
			keep = append(keep, ps.tails[i])
		}
	}
	clear(ps.tails[len(keep):])
	ps.tails = keep
	return slow, nil
}

// storeEvents waits for t's events and sends its read model entries. A
// customer whose last event was not the one its state names leaves t, for
// apply.
func (ps *pass) storeEvents(ctx context.Context, t *tail) ([]change, error) {
	start := time.Now()
	fs, slow, err := ps.awaitEvents(ctx, t.fs)
	t.clock.add(stepEvents, start)
	if err != nil {
		return nil, err
	}
	for _, c := range slow {
		delete(t.hs, c.h)
	}
	t.fs = fs
	for _, f := range fs {
		if err := t.models.put(ps, f.c.id, f.c.raw); err != nil {
			return slow, err
		}
	}
	return slow, t.models.send(ps.p)
}

// storeModels waits for t's read model entries and sends its state.
func (ps *pass) storeModels(ctx context.Context, t *tail) error {
	start := time.Now()
	err := t.models.wait(ctx, ps.p)
	t.clock.add(stepModel, start)
	if err != nil {
		return err
	}
	return ps.sendStates(t)
}

// storeStates waits for t's state, counts each of its customers as done,
// and logs the round's times; it returns the customers whose state
// another writer saved first, for apply.
func (ps *pass) storeStates(ctx context.Context, t *tail) ([]change, error) {
	start := time.Now()
	slow, err := ps.awaitStates(ctx, t)
	t.clock.add(stepState, start)
	if err != nil {
		return nil, err
	}
	c := &t.clock
	us := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	ps.p.log.Debug("pipeline round", "customers", t.n, "writes", len(t.fs), "load", us(c.took[stepLoad]),
		"events", us(c.took[stepEvents]), "model", us(c.took[stepModel]), "state", us(c.took[stepState]))
	return slow, nil
}

// join ends every tail: it waits for all their writes; it returns the
// customers whose event or state another writer wrote first, for apply.
func (ps *pass) join(ctx context.Context) ([]change, error) {
	var slow []change
	for len(ps.tails) > 0 {
		s, err := ps.advance(ctx)
		slow = append(slow, s...)
		if err != nil {
			return slow, err
		}
	}
	return slow, nil
}

// settle ends every tail, and applies one by one the customers whose
// event or state another writer wrote first.
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

// The steps of a round, as crm_bridge_poller_step_seconds names them.
const (
	stepLoad = iota
	stepEvents
	stepModel
	stepState
)

var stepNames = [...]string{stepLoad: "load", stepEvents: "events", stepModel: "model", stepState: "state"}

// stepClock times what a pass waits for in each step of one round of the
// pipeline: its read of the saved states, then the acknowledgements of
// each of its writes (which the pass waits for only once it read and
// published the next round), in crm_bridge_poller_step_seconds and for
// the round's debug line.
type stepClock struct {
	m    *prometheus.HistogramVec
	took [len(stepNames)]time.Duration
}

// add counts the time since start as spent waiting in step.
func (c *stepClock) add(step int, start time.Time) {
	d := time.Since(start)
	c.took[step] += d
	c.m.WithLabelValues(stepNames[step]).Observe(d.Seconds())
}
