package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

func TestMain(m *testing.M) {
	// Two goroutines of nats-server's file store may outlive a Shutdown
	// for a while on a loaded machine (seen in CI); they are the server's,
	// not the bridge's.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		// The bridge binary that tests run as a child process is built
		// once (proctest.Build); it goes with the tests.
		goleak.Cleanup(func(code int) { proctest.RemoveBuilds(); os.Exit(code) }))
}

// program is a run of the bridge's main function in the background.
type program struct {
	stdout, stderr *syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan error
}

func startProgram(t *testing.T, vars map[string]string, args ...string) *program {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &program{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		p.done <- run(ctx, args, func(k string) string { return vars[k] }, strings.NewReader(""), p.stdout, p.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Error("program did not stop")
		}
	})
	return p
}

// stop cancels the program's context, as SIGTERM does, and returns what
// run returned.
func (p *program) stop(t *testing.T) error {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("program did not stop within 30s")
		return nil
	}
}

// logValue waits for a JSON log line with msg and returns its attribute key.
func (p *program) logValue(t *testing.T, msg, key string) string {
	t.Helper()
	return proctest.WaitLogValue(t, p.stderr, msg, key)
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, func(string) string { return "" }, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"run", "dev", "crmsim", "version"} {
		if !strings.Contains(out.String(), "  "+want+" ") {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunHelpListsSettings(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", "--help"}, func(string) string { return "" }, nil, &out, io.Discard)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"BRIDGE_CRM_URL", "--crm-url", "BRIDGE_NATS_SYNC", "always", "BRIDGE_CONCURRENCY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	err := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, nil, io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("got %v, want a usage error naming the command", err)
	}
	err = run(context.Background(), []string{"run", "--bogus"}, func(string) string { return "" }, nil, io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "-bogus") {
		t.Errorf("got %v, want a usage error naming the flag", err)
	}
}

func TestInvalidConfigNamesTheVariable(t *testing.T) {
	vars := map[string]string{
		"BRIDGE_CRM_API_KEY": "hunter2-secret",
		"BRIDGE_CRM_TIMEOUT": "soon",
	}
	err := run(context.Background(), nil, func(k string) string { return vars[k] }, nil, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{"BRIDGE_CRM_URL: required", "BRIDGE_CRM_ORG_ID: required", `BRIDGE_CRM_TIMEOUT: "soon" is not a duration`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the API key: %v", err)
	}
}

func TestRunServesUntilStopped(t *testing.T) {
	srv := natstest.Server(t)
	const key = "super-secret-api-key"
	vars := map[string]string{
		"BRIDGE_NATS_URL":    srv.ClientURL(),
		"BRIDGE_CRM_URL":     "http://127.0.0.1:1",
		"BRIDGE_CRM_API_KEY": key,
		"BRIDGE_CRM_ORG_ID":  "org",
		"BRIDGE_HTTP_ADDR":   "127.0.0.1:0",
		"BRIDGE_LOG_FORMAT":  "json",
		"BRIDGE_LOG_LEVEL":   "debug",
	}
	p := startProgram(t, vars)
	addr := p.logValue(t, "http listening", "addr")
	waitReady(t, addr)
	if got, want := p.logValue(t, "crm-bridge starting", "gc"), "paced: 32 MiB of headroom, GOGC 10 to 400"; got != want {
		t.Errorf("gc: got %q, want %q", got, want)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("run returned %v after stop, want nil", err)
	}
	logs := p.stderr.String()
	if strings.Contains(logs, key) {
		t.Errorf("logs show the API key")
	}
	for _, want := range []string{`"msg":"crm-bridge starting"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func TestCRMSimCommand(t *testing.T) {
	p := startProgram(t, nil, "crmsim", "--addr", "127.0.0.1:0", "--api-key", "k", "--org-id", "o", "--seed-customers", "5", "--log-format", "json")
	url := p.logValue(t, "CRM simulator listening", "url")
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/crm/customers/export", nil)
	req.Header.Set("api-key", "k")
	req.Header.Set("organization-id", "o")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Data struct {
			Items []json.RawMessage `json:"items"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(body.Data.Items) != 5 {
		t.Errorf("got %d, %d items, %v; want 200 with the 5 seeded customers", resp.StatusCode, len(body.Data.Items), err)
	}
	req.Header.Set("api-key", "wrong")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: got %d, want 401", resp.StatusCode)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("crmsim returned %v, want nil", err)
	}
}

func TestDevRunsSimulatorAndBridge(t *testing.T) {
	srv := natstest.Server(t)
	vars := map[string]string{
		"BRIDGE_NATS_URL":   srv.ClientURL(),
		"BRIDGE_DATA_DIR":   t.TempDir(), // the simulator's state
		"BRIDGE_HTTP_ADDR":  "127.0.0.1:0",
		"BRIDGE_LOG_FORMAT": "json",
	}
	p := startProgram(t, vars, "dev", "--crmsim-addr", "127.0.0.1:0", "--seed-customers", "3")
	addr := p.logValue(t, "http listening", "addr")
	crmURL := p.logValue(t, "crm-bridge starting", "crm_url")
	if !strings.HasPrefix(crmURL, "http://127.0.0.1:") || strings.HasSuffix(crmURL, ":0") {
		t.Errorf("got CRM URL %q, want the simulator's", crmURL)
	}
	waitReady(t, addr)
	if !strings.Contains(p.stdout.String(), "crm-bridge dev mode") {
		t.Errorf("no banner on stdout:\n%s", p.stdout.String())
	}
	if err := p.stop(t); err != nil {
		t.Errorf("dev returned %v, want nil", err)
	}
}

// waitReady waits until the bridge at addr answers /readyz with 200.
func waitReady(t *testing.T, addr string) {
	t.Helper()
	eventually.True(t, 30*time.Second, "/readyz never 200", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}
