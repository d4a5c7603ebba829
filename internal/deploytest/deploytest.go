// Package deploytest reads the deployment files (compose.yaml, the Helm
// chart, the Prometheus rules and alerts under deploy/) and finds the
// tools that check them (helm, promtool), for the tests that check them
// against the code.
package deploytest

import (
	"os"
	"os/exec"
	"testing"

	"go.yaml.in/yaml/v4"
)

// RequireTool returns the path of the program name (helm, promtool) on
// PATH. Without it, t is skipped, or fails where CI is set (CI installs
// the tools: make tools).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		switch os.Getenv("CI") {
		case "", "false", "0":
			t.Skipf("no %s in PATH: `make tools` installs it", name)
		default:
			t.Fatalf("no %s in PATH, and CI is set: .ci/run installs it (make tools)", name)
		}
	}
	return path
}

// ReadYAML decodes the YAML file at path into v, and fails t, naming the
// file, when it cannot.
func ReadYAML(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
