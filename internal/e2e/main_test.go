package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bridgeBin is the bridge binary the scenarios run, built by TestMain as
// a user builds it (static, trimmed paths).
var bridgeBin string

func TestMain(m *testing.M) {
	// The test binary doubles as a NATS server node (nats_test.go), so
	// that a node can be killed for real.
	if spec := os.Getenv(natsNodeEnv); spec != "" {
		os.Exit(runNATSNode(spec))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return m.Run() // listing the tests (make fuzz): nothing to build
	}
	dir, err := os.MkdirTemp("", "crm-bridge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bridgeBin = filepath.Join(dir, "bridge")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=e2e", "-o", bridgeBin, "../../cmd/bridge")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/bridge: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
