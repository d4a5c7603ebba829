package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/eventually"
)

// natsNodeEnv carries a node's settings (JSON) to a child process of the
// test binary, which then runs that NATS server (TestMain).
const natsNodeEnv = "CRM_BRIDGE_E2E_NATS_NODE"

// node is one NATS server's settings; its store and ports stay the same
// across starts.
type node struct {
	Name        string   `json:"name"`
	Port        int      `json:"port"`
	StoreDir    string   `json:"storeDir"`
	ClusterPort int      `json:"clusterPort,omitempty"`
	Routes      []string `json:"routes,omitempty"`
	// MaxPayload is the server's max_payload; 0: 16 MiB, as the embedded
	// server's.
	MaxPayload int32 `json:"maxPayload,omitempty"`
}

// runNATSNode runs the node spec describes until SIGTERM, then shuts it
// down. It is the child's main.
func runNATSNode(spec string) int {
	var n node
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	o := &server.Options{
		ServerName: n.Name,
		Host:       "127.0.0.1",
		Port:       n.Port,
		JetStream:  true,
		StoreDir:   n.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: cmp.Or(n.MaxPayload, 16<<20),
	}
	if n.ClusterPort != 0 {
		o.Cluster = server.ClusterOpts{Name: "e2e", Host: "127.0.0.1", Port: n.ClusterPort}
		o.Routes = server.RoutesFromStr(strings.Join(n.Routes, ","))
	}
	s, err := server.NewServer(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(os.Stderr, "not ready")
		return 2
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}

// natsNet is one NATS server, or a cluster of them, each node a child
// process on its own store, so that it can be stopped (SIGTERM) or killed
// (SIGKILL) and started again on the same store and ports.
type natsNet struct {
	t     *testing.T
	nodes []node
	procs []*exec.Cmd // nil while a node is down
	done  []chan struct{}
}

// startNATS starts n nodes (1, or 3 for a cluster), each with max_payload
// maxPayload (0: 16 MiB), and waits until JetStream answers.
func startNATS(t *testing.T, n int, maxPayload int32) *natsNet {
	t.Helper()
	clientPorts, clusterPorts := freePorts(t, n), freePorts(t, n)
	var routes []string
	for _, p := range clusterPorts {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	nn := &natsNet{t: t, procs: make([]*exec.Cmd, n), done: make([]chan struct{}, n)}
	for i := range n {
		nd := node{Name: fmt.Sprintf("n%d", i), Port: clientPorts[i], StoreDir: t.TempDir(), MaxPayload: maxPayload}
		if n > 1 {
			nd.ClusterPort, nd.Routes = clusterPorts[i], routes
		}
		nn.nodes = append(nn.nodes, nd)
	}
	t.Cleanup(func() {
		for i := range nn.procs {
			nn.kill(i)
		}
	})
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

// start starts node i and waits until it accepts connections.
func (nn *natsNet) start(i int) {
	nn.t.Helper()
	spec, err := json.Marshal(nn.nodes[i])
	if err != nil {
		nn.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), natsNodeEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	// The node dies with the test process, also when that is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		nn.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	nn.procs[i], nn.done[i] = cmd, done
	addr := fmt.Sprintf("127.0.0.1:%d", nn.nodes[i].Port)
	eventually.True(nn.t, 30*time.Second, "NATS node "+nn.nodes[i].Name+" to listen", func() bool {
		select {
		case <-done:
			nn.t.Fatalf("NATS node %s exited", nn.nodes[i].Name)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// stop shuts node i down cleanly (SIGTERM); its store stays.
func (nn *natsNet) stop(i int) { nn.signal(i, syscall.SIGTERM) }

// kill kills node i (SIGKILL); its store stays.
func (nn *natsNet) kill(i int) { nn.signal(i, syscall.SIGKILL) }

func (nn *natsNet) signal(i int, sig syscall.Signal) {
	if nn.procs[i] == nil {
		return
	}
	_ = nn.procs[i].Process.Signal(sig)
	select {
	case <-nn.done[i]:
	case <-time.After(time.Minute):
		_ = nn.procs[i].Process.Kill()
		<-nn.done[i]
		nn.t.Errorf("NATS node %s still running a minute after %v", nn.nodes[i].Name, sig)
	}
	nn.procs[i] = nil
}

// url lists every node, comma separated, as BRIDGE_NATS_URL takes it.
func (nn *natsNet) url() string {
	var urls []string
	for _, nd := range nn.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", nd.Port))
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
