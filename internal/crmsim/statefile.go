package crmsim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// StateFileName is the name `bridge dev` gives its simulator's state file
// in its data dir.
const StateFileName = "crmsim.json"

// stateSaveEvery is how often StateFile.Keep saves a simulator whose
// customers have changed; a save that takes long spaces the next ones out
// (ten times its duration at least), so that a big store is not saved
// back to back.
const stateSaveEvery = 2 * time.Second

// StateFile keeps a simulator's state (Save's document) in a file, so that
// a second start carries on where the first stopped instead of seeding a
// CRM that a bridge has never seen. Path is required; Log, when nil,
// discards. Its methods are not safe for concurrent use: Keep's goroutine
// owns it until Keep's stop returns.
type StateFile struct {
	Path  string
	Log   *slog.Logger
	saved uint64 // the simulator's ChangeSeq when last saved or loaded
}

func (f *StateFile) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}

// Launch launches a simulator with opts on addr (see the package's
// Launch), restored from the file or, when there is none, seeded with
// opts.SeedCustomers (Restore), and keeps it in the file until ctx ends
// (Keep). closeSim closes the simulator, then saves it a last time if it
// changed and returns that save's error: call it once, after whatever
// else changes the simulator has stopped.
func (f *StateFile) Launch(ctx context.Context, opts Options, addr string) (sim *Simulator, closeSim func() error, err error) {
	sim, err = Launch(ctx, opts, Faults{}, addr, func(sim *Simulator) error { return f.Restore(sim, opts.SeedCustomers) })
	if err != nil {
		return nil, nil, err
	}
	stopKeeping := f.Keep(ctx, sim)
	return sim, func() error {
		_ = sim.Close() // no more changes over HTTP: the last save follows
		return stopKeeping()
	}, nil
}

// Restore loads the file into sim when there is one; otherwise it seeds n
// customers and saves them at once. It makes the file's directory if need
// be. A file it cannot load is an error (ErrBadState, wrapped, for one
// that is not a state document): seeding afresh would show the bridge a
// CRM whose customers changed under it.
func (f *StateFile) Restore(sim *Simulator, n int) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o750); err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	r, err := os.Open(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		sim.Seed(n)
		f.log().Info("simulator seeded", "customers", sim.Len(), "path", f.Path)
		return f.Save(sim)
	}
	if err != nil {
		return fmt.Errorf("simulator state: %w", err)
	}
	defer r.Close()
	start := time.Now()
	if err := sim.Load(r); err != nil {
		return fmt.Errorf("simulator state %s: %w (remove the data dir to start afresh)", f.Path, err)
	}
	f.saved = sim.ChangeSeq()
	f.log().Info("simulator state loaded", "customers", sim.Len(), "path", f.Path, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// Save writes sim's state to the file atomically: to a temporary file in
// the same directory, synced, then renamed over the file.
func (f *StateFile) Save(sim *Simulator) (err error) {
	seq := sim.ChangeSeq() // a change made during Save is saved next time
	dir := filepath.Dir(f.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".*.tmp")
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
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("save simulator state: %w", err)
	}
	if df, err := os.Open(dir); err == nil { // make the rename durable; best effort
		_ = df.Sync()
		df.Close()
	}
	f.saved = seq
	return nil
}

// Keep saves sim every two seconds while it has changed, until ctx ends
// or stop is called; stop then saves a last time if anything changed
// since, and returns that save's error. Call stop once, after whatever
// changes sim (its server, the bridge) has stopped.
func (f *StateFile) Keep(ctx context.Context, sim *Simulator) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.saveWhileChanged(ctx, sim)
	}()
	return func() error {
		cancel()
		<-done
		if sim.ChangeSeq() == f.saved {
			return nil
		}
		if err := f.Save(sim); err != nil {
			return err
		}
		f.log().Info("simulator state saved", "customers", sim.Len(), "path", f.Path)
		return nil
	}
}

// saveWhileChanged saves sim every stateSaveEvery while it has changed,
// or ten times as long as the last save took, until ctx ends.
func (f *StateFile) saveWhileChanged(ctx context.Context, sim *Simulator) {
	t := time.NewTimer(stateSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := stateSaveEvery
		if sim.ChangeSeq() != f.saved {
			start := time.Now()
			err := f.Save(sim)
			took := time.Since(start)
			if err != nil {
				f.log().Error("simulator state not saved", "path", f.Path, "err", err)
			} else {
				f.log().Debug("simulator state saved", "path", f.Path, "took", took)
			}
			wait = max(wait, 10*took)
		}
		t.Reset(wait)
	}
}
