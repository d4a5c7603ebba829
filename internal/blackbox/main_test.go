package blackbox

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain builds the three binaries the benchmarks run: the bridge as
// users build it, nats-server from the version in go.mod, and the floor.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "crm-bridge-blackbox-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := build(dir)
	if code == 0 {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) int {
	bridgeBin = filepath.Join(dir, "bridge")
	natsBin = filepath.Join(dir, "nats-server")
	floorBin = filepath.Join(dir, "floor")
	for _, b := range [][]string{
		{"-trimpath", "-ldflags", "-X main.version=blackbox", "-o", bridgeBin, "../../cmd/bridge"},
		{"-trimpath", "-o", natsBin, "github.com/nats-io/nats-server/v2"},
		{"-trimpath", "-o", floorBin, "./floor"},
	} {
		cmd := exec.Command("go", append([]string{"build"}, b...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %v: %v\n%s", b[len(b)-1], err, out)
			return 1
		}
	}
	return 0
}
