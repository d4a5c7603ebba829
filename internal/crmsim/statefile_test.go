package crmsim

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/gormic/crm-bridge/internal/crm"
)

// TestStateFileKeep checks the state file's life: seeded and saved on a
// first start, saved on stop after a change, loaded on the next start,
// with no temporary file left behind.
func TestStateFileKeep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	state := &StateFile{Path: filepath.Join(dir, StateFileName), Log: slog.New(slog.DiscardHandler)}
	sim, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := state.Restore(sim, 3); err != nil {
		t.Fatal(err)
	}
	stop := state.Keep(context.Background(), sim)
	c, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Late", Phone: "5550199"})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != StateFileName {
		t.Errorf("data dir holds %v (%v), want only %s", entries, err, StateFileName)
	}

	next, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	again := &StateFile{Path: state.Path, Log: state.Log}
	if err := again.Restore(next, 50); err != nil {
		t.Fatal(err)
	}
	if _, ok := next.Customer(c.ID); !ok || next.Len() != 4 {
		t.Errorf("loaded %d customers, %s among them: %v; want 4 with it", next.Len(), c.ID, ok)
	}
}

// A launch seeds a first simulator and saves it; closing it saves a
// change; the next launch on the same file carries on.
func TestStateFileLaunch(t *testing.T) {
	state := &StateFile{Path: filepath.Join(t.TempDir(), StateFileName)}
	ctx := context.Background()
	sim, closeSim, err := state.Launch(ctx, Options{SeedCustomers: 2}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Late", Phone: "5550199"})
	if err != nil {
		t.Fatal(err)
	}
	if err := closeSim(); err != nil {
		t.Fatal(err)
	}
	next, closeNext, err := (&StateFile{Path: state.Path}).Launch(ctx, Options{SeedCustomers: 50}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer closeNext()
	if _, ok := next.Customer(c.ID); !ok || next.Len() != 3 {
		t.Errorf("launched again with %d customers, %s among them: %v; want 3 with it", next.Len(), c.ID, ok)
	}
}
