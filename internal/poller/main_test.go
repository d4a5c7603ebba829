package poller

import (
	"os"
	"testing"
)

// TestMain runs the package's tests and benchmarks; when started by a
// benchmark as one of its child processes (benchChildEnv, see
// bench_test.go) it is that child instead.
func TestMain(m *testing.M) {
	if role := os.Getenv(benchChildEnv); role != "" {
		os.Exit(runBenchChild(role))
	}
	code := m.Run()
	stopBenchShared()
	os.Exit(code)
}
