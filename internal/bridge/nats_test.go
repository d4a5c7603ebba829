package bridge

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// TestReconnectLogHidesURLSecrets: the "nats reconnected" line names the
// server without the password or token its URL carries.
func TestReconnectLogHidesURLSecrets(t *testing.T) {
	srv := natstest.Server(t) // no auth: it ignores what the URL carries
	hostPort := strings.TrimPrefix(srv.ClientURL(), "nats://")
	for _, url := range []string{"nats://s3cret-token@" + hostPort, "nats://u:s3cret-pw@" + hostPort} {
		var logs syncbuf.Buffer
		nc, err := connect(testConfig(t), url, "test", slog.New(slog.NewJSONHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.ForceReconnect(); err != nil {
			t.Fatal(err)
		}
		eventually.True(t, 10*time.Second, "nats reconnected logged", func() bool {
			return strings.Contains(logs.String(), `"msg":"nats reconnected"`)
		})
		nc.Close()
		if strings.Contains(logs.String(), "s3cret") || !strings.Contains(logs.String(), "xxxxx@") {
			t.Errorf("URL %s: got logs %q, want the URL with xxxxx for its secret", url, logs.String())
		}
	}
}
