package e2e

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/proctest"
)

// natsNet is one NATS server, or a cluster of them, each node a
// nats-server child process on its own store, so that it can be stopped
// (SIGTERM) or killed (SIGKILL) and started again on the same store and
// ports.
type natsNet struct {
	t     *testing.T
	nodes []*proctest.NATS
}

// startNATS starts n nodes (1, or 3 for a cluster), each with max_payload
// maxPayload (0: 16 MiB, as the embedded server's), and waits until
// JetStream answers.
func startNATS(t *testing.T, n int, maxPayload int32) *natsNet {
	t.Helper()
	clientPorts, clusterPorts := proctest.FreePorts(t, n), proctest.FreePorts(t, n)
	var routes []string
	for _, p := range clusterPorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	nn := &natsNet{t: t}
	for i := range n {
		nd := &proctest.NATS{Name: fmt.Sprintf("n%d", i), Port: clientPorts[i], StoreDir: t.TempDir(), MaxPayload: cmp.Or(maxPayload, 16<<20)}
		if n > 1 {
			nd.ClusterPort, nd.Routes = clusterPorts[i], routes
		}
		nn.nodes = append(nn.nodes, nd)
	}
	for i := range n {
		nn.start(i)
	}
	_, js := nn.connect()
	eventually.True(t, time.Minute, "JetStream to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return nn
}

// start starts node i and waits until it accepts connections.
func (nn *natsNet) start(i int) {
	nn.t.Helper()
	nn.nodes[i].Start(nn.t)
}

// stop shuts node i down cleanly (SIGTERM); its store stays.
func (nn *natsNet) stop(i int) { nn.nodes[i].Stop(nn.t) }

// kill kills node i (SIGKILL); its store stays.
func (nn *natsNet) kill(i int) { nn.nodes[i].Kill() }

// url lists every node, comma separated, as BRIDGE_NATS_URL takes it.
func (nn *natsNet) url() string {
	var urls []string
	for _, nd := range nn.nodes {
		urls = append(urls, nd.URL())
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
	for i, nd := range nn.nodes {
		if nd.Name == name {
			return i
		}
	}
	nn.t.Fatalf("%s is led by %q, which is none of the nodes", stream, name)
	return -1
}
