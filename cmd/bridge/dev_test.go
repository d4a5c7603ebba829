package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// TestDevCarriesOnAfterRestart runs dev, changes a customer through the
// simulator's API, stops, and starts dev again on the same data dir: the
// simulator holds the same customers, the change included, and the bridge
// publishes no event for customers it had already seen.
func TestDevCarriesOnAfterRestart(t *testing.T) {
	srv := natstest.Server(t)
	_, js := natstest.Connect(t, srv)
	dataDir := filepath.Join(t.TempDir(), "data") // dev makes it
	vars := map[string]string{
		"BRIDGE_NATS_URL":      srv.ClientURL(),
		"BRIDGE_DATA_DIR":      dataDir,
		"BRIDGE_HTTP_ADDR":     "127.0.0.1:0",
		"BRIDGE_POLL_INTERVAL": "200ms",
		"BRIDGE_LOG_FORMAT":    "json",
	}
	args := []string{"dev", "--crmsim-addr", "127.0.0.1:0", "--seed-customers", "7", "--churn-interval", "0"}
	statePath := filepath.Join(dataDir, crmsim.StateFileName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// First start: seeded; one customer changed.
	p := startProgram(t, vars, args...)
	if got := p.logValue(t, "simulator seeded", "path"); got != statePath {
		t.Errorf("seeded, state in %q; want %q", got, statePath)
	}
	client := devClient(t, p)
	list, err := client.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Users) != 7 {
		t.Fatalf("got %d customers, want the 7 seeded", len(list.Users))
	}
	changed, sentinel := list.Users[2].ID, list.Users[5].ID
	p.logValue(t, "poller recorded the existing customers", "msg") // a change now is an event
	lastName := "Restarted"
	if err := client.Update(ctx, changed, crm.UpdateParams{LastName: &lastName}); err != nil {
		t.Fatal(err)
	}
	waitChangeEvents(t, js, changed, 1)
	eventually.True(t, 15*time.Second, "the change never saved while dev runs", func() bool {
		b, _ := os.ReadFile(statePath)
		return strings.Contains(string(b), `"lastName":"Restarted"`)
	})
	if !strings.Contains(p.stdout.String(), "go run ./cmd/bridge publish create") {
		t.Errorf("the banner does not show the commands to try:\n%s", p.stdout.String())
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("dev returned %v, want nil", err)
	}
	before := changeEvents(t, js)

	// Second start on the same data dir: loaded, not seeded.
	p = startProgram(t, vars, args...)
	if got := p.logValue(t, "simulator state loaded", "path"); got != statePath {
		t.Errorf("loaded from %q, want %q", got, statePath)
	}
	if strings.Contains(p.stderr.String(), `"msg":"simulator seeded"`) {
		t.Error("seeded again on the second start")
	}
	client = devClient(t, p)
	c, err := client.Get(ctx, changed)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(c.Raw); !strings.Contains(got, `"lastName":"Restarted"`) {
		t.Errorf("changed customer: got %s, want lastName Restarted", got)
	}
	if list, err = client.List(ctx); err != nil || len(list.Users) != 7 {
		t.Fatalf("got %d customers (%v), want the same 7", len(list.Users), err)
	}
	// The bridge's poller saw the same CRM: a change made now is the only
	// event after the restart (a reseeded CRM would show up before it).
	if err := client.Update(ctx, sentinel, crm.UpdateParams{InternalNote: crm.Some("after the restart")}); err != nil {
		t.Fatal(err)
	}
	waitChangeEvents(t, js, sentinel, 1)
	if after := changeEvents(t, js); after != before+1 {
		t.Errorf("got %d change events after the restart, want 1 (the change made then)", after-before)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("dev returned %v, want nil", err)
	}
}

// devClient waits until the dev program p is ready and returns a client of
// its simulator.
func devClient(t *testing.T, p *program) *crm.Client {
	t.Helper()
	crmURL := p.logValue(t, "crm-bridge starting", "crm_url")
	waitReady(t, p.logValue(t, "http listening", "addr"))
	c, err := crm.New(crm.Config{BaseURL: crmURL, APIKey: devAPIKey, OrgID: devOrgID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitChangeEvents waits until the events stream holds n change events of
// customer id.
func waitChangeEvents(t *testing.T, js jetstream.JetStream, id string, n int) {
	t.Helper()
	subject := streams.Subjects{Prefix: "crm"}.Changed(id)
	eventually.True(t, 15*time.Second, "no change event of "+id, func() bool {
		return natstest.Count(js, streams.Events, subject) >= n
	})
}

// changeEvents returns the number of change events in the events stream.
func changeEvents(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	return natstest.Count(js, streams.Events, "crm.customer.changed.>")
}

// TestDevRefusesCorruptState checks that dev does not start, nor seed over
// the file, when its simulator's state file is corrupt.
func TestDevRefusesCorruptState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, crmsim.StateFileName)
	if err := os.WriteFile(path, []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"BRIDGE_DATA_DIR": dir, "BRIDGE_HTTP_ADDR": "127.0.0.1:0", "BRIDGE_NATS_URL": "nats://127.0.0.1:1"}
	err := run(context.Background(), []string{"dev", "--crmsim-addr", "127.0.0.1:0"}, func(k string) string { return vars[k] },
		strings.NewReader(""), io.Discard, io.Discard)
	if !errors.Is(err, crmsim.ErrBadState) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want ErrBadState naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json\n" {
		t.Errorf("the state file was overwritten: %q", b)
	}
}
