package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/eventually"
)

// natsNet is one NATS server, or a cluster of them, running in the test's
// process with JetStream, each node on its own store so that it can be
// stopped and started again on the same store and ports.
type natsNet struct {
	t    *testing.T
	opts []*server.Options
	srvs []*server.Server // nil while a node is stopped
}

// startNATS starts n nodes (1, or 3 for a cluster) and waits until
// JetStream answers.
func startNATS(t *testing.T, n int) *natsNet {
	t.Helper()
	clientPorts, clusterPorts := freePorts(t, n), freePorts(t, n)
	var routes []string
	for _, p := range clusterPorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	nn := &natsNet{t: t, srvs: make([]*server.Server, n)}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       clientPorts[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			MaxPayload: 16 << 20,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "e2e", Host: "127.0.0.1", Port: clusterPorts[i]}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		}
		nn.opts = append(nn.opts, o)
	}
	for i := range n {
		nn.start(i)
	}
	t.Cleanup(func() {
		for i := range nn.srvs {
			nn.stop(i)
		}
	})
	_, js := nn.connect()
	eventually.True(t, time.Minute, "JetStream to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return nn
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func (nn *natsNet) start(i int) {
	nn.t.Helper()
	o := nn.opts[i].Clone()
	s, err := server.NewServer(o)
	if err != nil {
		nn.t.Fatalf("nats node %d: %v", i, err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		nn.t.Fatalf("nats node %d not ready", i)
	}
	nn.srvs[i] = s
}

// stop shuts node i down; its store stays for a start.
func (nn *natsNet) stop(i int) {
	if s := nn.srvs[i]; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		nn.srvs[i] = nil
	}
}

// url lists every node, comma separated, as BRIDGE_NATS_URL takes it.
func (nn *natsNet) url() string {
	var urls []string
	for _, o := range nn.opts {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(urls, ",")
}

// connect returns a connection of the test's own that reconnects for as
// long as the test runs, to any node.
func (nn *natsNet) connect() (*nats.Conn, jetstream.JetStream) {
	nn.t.Helper()
	nc, err := nats.Connect(nn.url(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		nn.t.Fatal(err)
	}
	nn.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		nn.t.Fatal(err)
	}
	return nc, js
}

// leader returns the index of the node leading stream.
func (nn *natsNet) leader(js jetstream.JetStream, stream string) int {
	nn.t.Helper()
	var name string
	eventually.True(nn.t, 30*time.Second, stream+" to have a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		if ci := s.CachedInfo().Cluster; ci != nil {
			name = ci.Leader
		}
		return name != ""
	})
	for i, o := range nn.opts {
		if o.ServerName == name {
			return i
		}
	}
	nn.t.Fatalf("%s is led by %q, which is none of the nodes", stream, name)
	return -1
}
