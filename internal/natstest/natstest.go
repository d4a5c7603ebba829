// Package natstest starts real, embedded NATS JetStream servers for tests:
// in-process, on a free port, storing in the test's temporary directory,
// and shut down when the test ends. There is no mock of NATS.
package natstest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/embedded"
)

// Server starts an embedded JetStream server for t.
func Server(t testing.TB) *embedded.Server {
	t.Helper()
	return ServerAt(t, t.TempDir())
}

// ServerAt starts an embedded JetStream server storing under dir, so that
// a test can stop it and start another on the same store. It syncs every
// write, as the bridge's embedded server does by default.
func ServerAt(t testing.TB, dir string) *embedded.Server {
	t.Helper()
	return Start(t, embedded.Options{StoreDir: dir})
}

// Start starts an embedded JetStream server with opts, on a free port
// unless opts says otherwise, and shuts it down when the test ends.
func Start(t testing.TB, opts embedded.Options) *embedded.Server {
	t.Helper()
	if opts.Port == 0 {
		opts.Port = -1
	}
	s, err := embedded.Start(opts)
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect connects to s and returns the connection and its JetStream
// context; the connection is closed when the test ends.
func Connect(t testing.TB, s *embedded.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("connect NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}
