package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/proctest"
)

// startChild runs the bridge binary, as built, with args and env
// (KEY=value) as a child process.
func startChild(t *testing.T, env []string, args ...string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, "bridge "+args[0], proctest.Build(t, proctest.BridgePkg), args, proctest.Options{Env: env})
}

// Done when 1 (issue 5): the binary as built; `bridge dev` up and ready;
// `bridge publish create` applied with a customer id; the change event of
// that customer in `bridge watch --json`; dev stopped by SIGTERM with exit
// status 0.
func TestEndToEndDevPublishWatch(t *testing.T) {
	bin := proctest.Build(t, proctest.BridgePkg)
	dev := startChild(t, []string{
		"BRIDGE_DATA_DIR=" + t.TempDir(),
		"BRIDGE_HTTP_ADDR=127.0.0.1:0",
		"BRIDGE_LOG_FORMAT=json",
		"BRIDGE_POLL_INTERVAL=200ms",
	}, "dev", "--nats-port", "-1", "--crmsim-addr", "127.0.0.1:0", "--seed-customers", "20", "--churn-interval", "0")
	addr := proctest.WaitLogValue(t, dev.Stderr, "http listening", "addr")
	natsURL := proctest.WaitLogValue(t, dev.Stderr, "embedded NATS JetStream started", "url")
	waitReady(t, addr)
	if !strings.Contains(dev.Stdout.String(), "go run ./cmd/bridge publish create") {
		t.Errorf("the banner does not say how to publish:\n%s", dev.Stdout.String())
	}
	env := []string{"BRIDGE_NATS_URL=" + natsURL}

	// watch first, from now on: it must see the event as it comes.
	watch := startChild(t, env, "watch", "--json")
	eventually.True(t, 30*time.Second, "watch ready", func() bool {
		return strings.Contains(watch.Stderr.String(), "watching")
	})
	publish := exec.Command(bin, "publish", "--json", "create", `{"firstName":"Ada","phone":"5550100"}`)
	publish.Env = append(os.Environ(), env...)
	out, err := publish.Output()
	if err != nil {
		t.Fatalf("bridge publish: %v\n%s", err, out)
	}
	var res struct {
		Status     string `json:"status"`
		CustomerID string `json:"customerId"`
		CommandID  string `json:"commandId"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Status != "applied" || res.CustomerID == "" {
		t.Fatalf("bridge publish printed %s (%v), want an applied result with a customer id", out, err)
	}

	// The event of that customer, in watch's JSON lines.
	found := eventually.Within(30*time.Second, func() bool {
		for line := range strings.Lines(watch.Stdout.String()) {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["type"] == "event" &&
				rec["customerId"] == res.CustomerID && rec["change"] == "created" {
				return true
			}
		}
		return false
	})
	if !found {
		t.Fatalf("bridge watch --json showed no created event for %s:\n%s", res.CustomerID, watch.Stdout.String())
	}
	if !strings.Contains(watch.Stdout.String(), fmt.Sprintf("%q", res.CommandID)) {
		t.Errorf("bridge watch --json showed no result for command %s", res.CommandID)
	}

	if err := watch.Stop(t, 10*time.Second); err != nil {
		t.Errorf("bridge watch after SIGTERM: %v, want exit status 0", err)
	}
	if err := dev.Stop(t, 40*time.Second); err != nil {
		t.Errorf("bridge dev after SIGTERM: %v, want exit status 0", err)
	}
	if !strings.Contains(dev.Stderr.String(), `"msg":"stopped"`) {
		t.Error("bridge dev did not log that it stopped")
	}
}
