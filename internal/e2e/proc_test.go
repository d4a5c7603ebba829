package e2e

import (
	"cmp"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// bridge is the bridge binary running `bridge run` as a child process.
type bridge struct {
	*proctest.Proc
	name string
	logs *syncbuf.Buffer // stdout and stderr
}

// startBridge starts `bridge run` with env (over the process's own
// environment) and waits until it answers /readyz with 200, unless env
// says the CRM will refuse it (wantReady false). A failed scenario keeps
// its whole log under $E2E_LOG_DIR (default: the system's temporary
// directory), crm-bridge-e2e/<test>/; E2E_KEEP_LOGS=1 keeps the logs of
// passing scenarios too.
func startBridge(t *testing.T, name string, env map[string]string, wantReady bool) *bridge {
	t.Helper()
	p := proctest.Start(t, name, proctest.Build(t, proctest.BridgePkg), []string{"run"}, proctest.Options{
		Env:       proctest.Vars(env),
		LogDir:    filepath.Join(cmp.Or(os.Getenv("E2E_LOG_DIR"), os.TempDir()), "crm-bridge-e2e"),
		LogAlways: os.Getenv("E2E_KEEP_LOGS") != "",
	})
	b := &bridge{Proc: p, name: name, logs: p.Output}
	if wantReady {
		b.waitReady(t)
	}
	return b
}

// stop sends SIGTERM and waits up to a minute for exit status 0.
func (b *bridge) stop(t *testing.T) {
	t.Helper()
	if err := b.Stop(t, time.Minute); err != nil {
		t.Errorf("%s after SIGTERM: %v, want exit status 0", b.name, err)
	}
}

// logValue returns attribute key of the first JSON log line with msg, or
// "" if there is none yet.
func (b *bridge) logValue(msg, key string) string {
	v, _ := proctest.LogValue(b.logs.String(), msg, key)
	return v
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
	return proctest.Get("http://" + addr + "/readyz")
}

func (b *bridge) waitReady(t *testing.T) {
	t.Helper()
	eventually.True(t, time.Minute, b.name+" ready", func() bool { return b.readyz() == http.StatusOK })
}
