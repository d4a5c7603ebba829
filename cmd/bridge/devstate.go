package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gormic/crm-bridge/internal/crmsim"
)

// devStateFile is the file, in the data dir, where `bridge dev` keeps its
// simulator's customers (crmsim.Simulator.Save's document), so that a
// second start on the same data dir carries on where the first stopped
// instead of seeding a CRM the bridge has never seen.
const devStateFile = "crmsim.json"

// devSaveEvery is how often `bridge dev` saves its simulator when its
// customers have changed; a save that takes long spaces the next ones
// out (ten times its duration at least), so that a big store is not saved
// back to back.
const devSaveEvery = 2 * time.Second

// devState keeps a simulator's state in a file. Its methods are not safe
// for concurrent use: keep's goroutine owns it until keep's stop returns.
type devState struct {
	path  string
	log   *slog.Logger
	saved uint64 // the simulator's ChangeSeq when last saved or loaded
}

// restore loads the state file into sim when there is one; otherwise it
// seeds n customers and saves them at once. It makes the file's directory
// if need be. A file it cannot load is an error: seeding afresh would show
// the bridge a CRM whose customers changed under it.
func (d *devState) restore(sim *crmsim.Simulator, n int) error {
	if err := os.MkdirAll(filepath.Dir(d.path), 0o750); err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	f, err := os.Open(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		sim.Seed(n)
		d.log.Info("simulator seeded", "customers", sim.Len(), "path", d.path)
		return d.save(sim)
	}
	if err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	defer f.Close()
	start := time.Now()
	if err := sim.Load(f); err != nil {
		return fmt.Errorf("simulator state %s: %w (remove the data dir to start afresh)", d.path, err)
	}
	d.saved = sim.ChangeSeq()
	d.log.Info("simulator state loaded", "customers", sim.Len(), "path", d.path, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// save writes sim's state to the file atomically: to a temporary file in
// the same directory, synced, then renamed over the file.
func (d *devState) save(sim *crmsim.Simulator) (err error) {
	seq := sim.ChangeSeq() // a change made during Save is saved next time
	dir := filepath.Dir(d.path)
	tmp, err := os.CreateTemp(dir, "."+devStateFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := sim.Save(tmp); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	if err := os.Rename(tmp.Name(), d.path); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	if df, err := os.Open(dir); err == nil { // make the rename durable; best effort
		_ = df.Sync()
		df.Close()
	}
	d.saved = seq
	return nil
}

// keep saves sim every devSaveEvery while it has changed, until ctx ends or
// stop is called; stop then saves a last time if anything changed since,
// and returns that save's error. Call stop once, after whatever changes
// sim (its server, the bridge) has stopped.
func (d *devState) keep(ctx context.Context, sim *crmsim.Simulator) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(devSaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			wait := devSaveEvery
			if sim.ChangeSeq() != d.saved {
				start := time.Now()
				err := d.save(sim)
				took := time.Since(start)
				if err != nil {
					d.log.Error("simulator state not saved", "path", d.path, "err", err)
				} else {
					d.log.Debug("simulator state saved", "path", d.path, "took", took)
				}
				wait = max(wait, 10*took)
			}
			t.Reset(wait)
		}
	}()
	return func() error {
		cancel()
		<-done
		if sim.ChangeSeq() == d.saved {
			return nil
		}
		if err := d.save(sim); err != nil {
			return err
		}
		d.log.Info("simulator state saved", "customers", sim.Len(), "path", d.path)
		return nil
	}
}
