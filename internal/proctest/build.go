// Package proctest runs programs as child processes of a test: the bridge
// binary, nats-server and the black-box floor, each built once per test
// binary (Build), started with their output kept (Start), polled with a
// deadline until ready (WaitFor), and stopped (SIGTERM) or killed
// (SIGKILL) as a user or an orchestrator would. It is the one harness of
// the tests that need real processes: cmd/bridge, internal/e2e and
// internal/blackbox.
package proctest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

// The packages the tests run as programs.
const (
	// BridgePkg is the bridge binary.
	BridgePkg = "github.com/gormic/crm-bridge/cmd/bridge"
	// NATSPkg is nats-server, at the version go.mod requires.
	NATSPkg = "github.com/nats-io/nats-server/v2"
	// FloorPkg is the black-box benchmarks' floor.
	FloorPkg = "github.com/gormic/crm-bridge/internal/blackbox/floor"
)

// builds holds what Build made, under one temporary directory that Main
// (or RemoveBuilds) removes.
var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*build
}

type build struct {
	once sync.Once
	bin  string
	err  error
}

// Build returns the binary of the package pkg (an import path of the main
// module or of a module it requires), built as a user builds it: static
// (CGO_ENABLED=0), with trimmed paths, and the bridge's version set to
// "test". Each package is built once per test binary, however many tests
// ask; a failed build fails tb. The binaries are removed by Main or
// RemoveBuilds.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	bin, err := buildOnce(pkg)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

func buildOnce(pkg string) (string, error) {
	builds.mu.Lock()
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "crm-bridge-proctest-")
		if err != nil {
			builds.mu.Unlock()
			return "", err
		}
		builds.dir, builds.bins = dir, map[string]*build{}
	}
	b, ok := builds.bins[pkg]
	if !ok {
		b = &build{bin: filepath.Join(builds.dir, fmt.Sprintf("%d-%s", len(builds.bins), path.Base(pkg)))}
		builds.bins[pkg] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=test", "-o", b.bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	})
	return b.bin, b.err
}

// RemoveBuilds removes every binary Build made. A TestMain that does not
// call Main calls it after the tests.
func RemoveBuilds() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
		builds.dir, builds.bins = "", nil
	}
}

// Main is a TestMain: it builds pkgs first (so that no test or benchmark
// times a build), runs the tests, removes the binaries and exits with the
// tests' status. Listing the tests (-test.list) builds nothing.
func Main(m *testing.M, pkgs ...string) {
	os.Exit(run(m, pkgs))
}

func run(m *testing.M, pkgs []string) int {
	defer RemoveBuilds()
	flag.Parse()
	if f := flag.Lookup("test.list"); f == nil || f.Value.String() == "" {
		var errs []error
		for _, pkg := range pkgs {
			_, err := buildOnce(pkg)
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
