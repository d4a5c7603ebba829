// Package deploytest reads the deployment files (compose.yaml, the Helm
// chart, the Prometheus rules and alerts under deploy/) for the tests
// that check them against the code.
package deploytest

import (
	"os"
	"testing"

	"go.yaml.in/yaml/v4"
)

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
