package crmsim

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestLaunch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sim, err := Launch(ctx, Options{SeedCustomers: 3}, Faults{}, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	if sim.Len() != 3 {
		t.Errorf("got %d customers, want 3 seeded", sim.Len())
	}
	resp, err := http.Get(sim.URL() + "/nowhere")
	if err != nil {
		t.Fatalf("got %v, want the simulator listening", err)
	}
	resp.Body.Close()

	bad := errors.New("no state")
	if _, err := Launch(ctx, Options{}, Faults{}, "127.0.0.1:0", func(*Simulator) error { return bad }); !errors.Is(err, bad) {
		t.Errorf("got %v, want fill's error", err)
	}
}
