package e2e

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
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

// bridge is the bridge binary running `bridge run` as a child process.
type bridge struct {
	name string
	cmd  *exec.Cmd
	logs *syncbuf.Buffer
	done chan struct{}
	err  error
}

// startBridge starts `bridge run` with env (KEY=value, over the
// process's own environment) and waits until it answers /readyz with 200,
// unless env says the CRM will refuse it (wantReady false).
func startBridge(t *testing.T, name string, env map[string]string, wantReady bool) *bridge {
	t.Helper()
	b := &bridge{name: name, cmd: exec.Command(bridgeBin, "run"), logs: &syncbuf.Buffer{}, done: make(chan struct{})}
	b.cmd.Env = os.Environ()
	for k, v := range env {
		b.cmd.Env = append(b.cmd.Env, k+"="+v)
	}
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			t.Logf("%s (pid %d) log, tail:\n%s", name, b.cmd.Process.Pid, tail(b.logs.String(), 6000))
		}
		if t.Failed() || os.Getenv("E2E_KEEP_LOGS") != "" {
			keepLog(t, name, b.logs.String())
		}
	})
	if wantReady {
		b.waitReady(t)
	}
	return b
}

// kill sends SIGKILL and waits for the process to end.
func (b *bridge) kill() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.done
}

// stop sends SIGTERM and waits up to a minute for exit status 0.
func (b *bridge) stop(t *testing.T) {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
		if b.err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit status 0", b.name, b.err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s still running a minute after SIGTERM", b.name)
	}
}

// logValue returns attribute key of the first JSON log line with msg, or
// "" if there is none yet.
func (b *bridge) logValue(msg, key string) string {
	for line := range strings.Lines(b.logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			v, _ := m[key].(string)
			return v
		}
	}
	return ""
}

// readyz returns the status of GET /readyz, or 0 when there is no answer.
func (b *bridge) readyz() int {
	code, _ := b.readyzBody()
	return code
}

// readyzBody returns the status and body of GET /readyz; 0 and "" when
// there is no answer.
func (b *bridge) readyzBody() (int, string) {
	addr := b.logValue("http listening", "addr")
	if addr == "" {
		return 0, ""
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body)
}

func (b *bridge) waitReady(t *testing.T) {
	t.Helper()
	eventually.True(t, time.Minute, b.name+" ready", func() bool { return b.readyz() == http.StatusOK })
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// keepLog writes the whole log of one process of a failed scenario (of
// every scenario with E2E_KEEP_LOGS set) under $E2E_LOG_DIR (default: the
// system's temporary directory), for reading after the run.
func keepLog(t *testing.T, name, logs string) {
	dir := filepath.Join(cmp.Or(os.Getenv("E2E_LOG_DIR"), os.TempDir()), "crm-bridge-e2e", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Log(err)
		return
	}
	path := filepath.Join(dir, name+".log")
	if err := os.WriteFile(path, []byte(logs), 0o644); err != nil {
		t.Log(err)
		return
	}
	t.Logf("%s: whole log in %s", name, path)
}
