package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// buildBridge builds the bridge binary as a user would (static, as the
// Dockerfile does) into a temporary directory.
func buildBridge(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "bridge")
	cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags", "-s -w -X main.version=e2e", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is a bridge binary running as a process, its output collected.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
	err            error
}

func startChild(t *testing.T, bin string, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("%s %v\nstdout (tail):\n%s\nstderr (tail):\n%s", filepath.Base(bin), args, tail(c.stdout.String(), 3000), tail(c.stderr.String(), 3000))
		}
	})
	return c
}

// stop sends SIGTERM and returns the exit error (nil for status 0).
func (c *child) stop(t *testing.T, within time.Duration) error {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
		return c.err
	case <-time.After(within):
		t.Fatalf("still running %v after SIGTERM", within)
		return nil
	}
}

// logValue waits for a JSON log line with msg on the child's stderr and
// returns its attribute key.
func (c *child) logValue(t *testing.T, msg, key string) string {
	t.Helper()
	return logValue(t, c.stderr, msg, key)
}

// Done when 1 (issue 5): the binary as built; `bridge dev` up and ready;
// `bridge publish create` applied with a customer id; the change event of
// that customer in `bridge watch --json`; dev stopped by SIGTERM with exit
// status 0.
func TestEndToEndDevPublishWatch(t *testing.T) {
	bin := buildBridge(t)
	dev := startChild(t, bin, []string{
		"BRIDGE_DATA_DIR=" + t.TempDir(),
		"BRIDGE_HTTP_ADDR=127.0.0.1:0",
		"BRIDGE_LOG_FORMAT=json",
		"BRIDGE_POLL_INTERVAL=200ms",
	}, "dev", "--nats-port", "-1", "--crmsim-addr", "127.0.0.1:0", "--seed-customers", "20", "--churn-interval", "0")
	addr := dev.logValue(t, "http listening", "addr")
	natsURL := dev.logValue(t, "embedded NATS JetStream started", "url")
	waitReady(t, addr)
	if !strings.Contains(dev.stdout.String(), "go run ./cmd/bridge publish create") {
		t.Errorf("the banner does not say how to publish:\n%s", dev.stdout.String())
	}
	env := []string{"BRIDGE_NATS_URL=" + natsURL}

	// watch first, from now on: it must see the event as it comes.
	watch := startChild(t, bin, env, "watch", "--json")
	eventually.True(t, 30*time.Second, "watch ready", func() bool {
		return strings.Contains(watch.stderr.String(), "watching")
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
		for line := range strings.Lines(watch.stdout.String()) {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["type"] == "event" &&
				rec["customerId"] == res.CustomerID && rec["change"] == "created" {
				return true
			}
		}
		return false
	})
	if !found {
		t.Fatalf("bridge watch --json showed no created event for %s:\n%s", res.CustomerID, watch.stdout.String())
	}
	if !strings.Contains(watch.stdout.String(), fmt.Sprintf("%q", res.CommandID)) {
		t.Errorf("bridge watch --json showed no result for command %s", res.CommandID)
	}

	if err := watch.stop(t, 10*time.Second); err != nil {
		t.Errorf("bridge watch after SIGTERM: %v, want exit status 0", err)
	}
	if err := dev.stop(t, 40*time.Second); err != nil {
		t.Errorf("bridge dev after SIGTERM: %v, want exit status 0", err)
	}
	if !strings.Contains(dev.stderr.String(), `"msg":"stopped"`) {
		t.Error("bridge dev did not log that it stopped")
	}
}
