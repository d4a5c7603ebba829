// Package natstest starts real, embedded NATS JetStream servers for tests:
// in-process, on a free port, storing in the test's temporary directory,
// and shut down when the test ends. There is no mock of NATS.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/streams"
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

// Connect connects to s, with opts (TLS, credentials, ...) if any, and
// returns the connection and its JetStream context; the connection is
// closed when the test ends.
func Connect(t testing.TB, s *embedded.Server, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), opts...)
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

// EnsureStreams makes the bridge's streams in js as a bridge makes them at
// start (prefix crm, one replica, every command partition), and fails t
// when it cannot.
func EnsureStreams(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Config{Prefix: "crm", Replicas: 1, Partitions: streams.CommandPartitions}); err != nil {
		t.Fatalf("make the streams: %v", err)
	}
}

// Messages returns every message stream holds under filter, in order.
func Messages(t testing.TB, js jetstream.JetStream, stream, filter string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := int(info.NumPending)
	var out []jetstream.Msg
	for len(out) < n {
		batch, err := c.Fetch(n-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			out = append(out, m)
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Subjects returns how many messages stream holds on each subject that
// matches filter, or nil when it cannot tell (for polling with
// eventually).
func Subjects(js jetstream.JetStream, stream, filter string) map[string]int {
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		return nil
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil
	}
	out := make(map[string]int, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[subj] = int(n)
	}
	return out
}

// Count returns how many messages stream holds on the subjects that
// filter matches (a subject, or one with wildcards), or 0 when it cannot
// tell (for polling with eventually).
func Count(js jetstream.JetStream, stream, filter string) int {
	n := 0
	for _, c := range Subjects(js, stream, filter) {
		n += c
	}
	return n
}
