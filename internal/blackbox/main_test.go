package blackbox

import (
	"os"
	"testing"

	"github.com/gormic/crm-bridge/internal/proctest"
)

// TestMain builds the three binaries the benchmarks run: the bridge as
// users build it, nats-server from the version in go.mod, and the floor.
func TestMain(m *testing.M) {
	proctest.Main(m, proctest.BridgePkg, proctest.NATSPkg, proctest.FloorPkg)
}

// start starts the program of the package pkg (proctest.BridgePkg, ...)
// with args and env (KEY=value). With BENCH_LOG_DIR set, its whole output
// is written there when the benchmark ends.
func start(tb testing.TB, name, pkg string, args []string, env ...string) *proctest.Proc {
	tb.Helper()
	return startBin(tb, name, proctest.Build(tb, pkg), args, env...)
}

// startBin is start with the program bin, built already.
func startBin(tb testing.TB, name, bin string, args []string, env ...string) *proctest.Proc {
	tb.Helper()
	return proctest.Start(tb, name, bin, args, proctest.Options{
		Env: env, LogDir: os.Getenv("BENCH_LOG_DIR"), LogAlways: true,
	})
}
