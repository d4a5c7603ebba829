package e2e

import (
	"testing"

	"github.com/gormic/crm-bridge/internal/proctest"
)

// TestMain builds the bridge binary and nats-server before the scenarios
// run them.
func TestMain(m *testing.M) {
	proctest.Main(m, proctest.BridgePkg, proctest.NATSPkg)
}
