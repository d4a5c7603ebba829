package proctest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NATS is a nats-server with JetStream as a child process, on a store and
// ports that stay the same across its starts, so that a test can stop it
// (SIGTERM) or kill it (SIGKILL) and start it again. What it leaves zero
// is nats-server's default (as users run it: files synced every 2 minutes).
type NATS struct {
	// Name is the server's name, unique in a cluster. Default: nats-server.
	Name string
	// Port is the client port on 127.0.0.1. Default: a free one, chosen
	// at the first start.
	Port int
	// StoreDir is JetStream's store. Required.
	StoreDir string
	// ClusterPort, when set, is the cluster port of a node of the cluster
	// "test" that routes to Routes (nats://127.0.0.1:port, its own may be
	// among them).
	ClusterPort int
	Routes      []string
	// MaxPayload is max_payload, in bytes. Default: nats-server's, 1 MiB.
	MaxPayload int32
	// ProfPort, when set, is prof_port: the server answers Go's
	// /debug/pprof/ there, on 127.0.0.1.
	ProfPort int
	// Options are the process's; see Start.
	Options Options

	proc *Proc
}

// Start starts the server, built by Build(NATSPkg), and waits until it
// accepts connections; it returns its process.
func (n *NATS) Start(tb testing.TB) *Proc {
	tb.Helper()
	if n.Name == "" {
		n.Name = "nats-server"
	}
	if n.Port == 0 {
		n.Port = FreePort(tb)
	}
	conf := fmt.Sprintf("server_name: %q\nhost: 127.0.0.1\nport: %d\njetstream: {store_dir: %q}\n", n.Name, n.Port, n.StoreDir)
	if n.MaxPayload != 0 {
		conf += fmt.Sprintf("max_payload: %d\n", n.MaxPayload)
	}
	if n.ProfPort != 0 {
		conf += fmt.Sprintf("prof_port: %d\n", n.ProfPort)
	}
	if n.ClusterPort != 0 {
		conf += fmt.Sprintf("cluster: {name: test, host: 127.0.0.1, port: %d, routes: [%s]}\n", n.ClusterPort, strings.Join(n.Routes, ", "))
	}
	path := filepath.Join(tb.TempDir(), n.Name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	n.proc = Start(tb, n.Name, Build(tb, NATSPkg), []string{"-c", path}, n.Options)
	WaitFor(tb, n.proc, time.Minute, 20*time.Millisecond, n.Name+" to listen", func() bool { return Listening(n.addr()) })
	return n.proc
}

// Stop shuts the server down cleanly (SIGTERM) and waits up to a minute;
// its store stays. It does nothing to a server that is not running.
func (n *NATS) Stop(tb testing.TB) {
	tb.Helper()
	if n.proc != nil && !n.proc.Exited() {
		_ = n.proc.Stop(tb, time.Minute) // its exit status is nats-server's business
	}
	n.proc = nil
}

// Kill kills the server (SIGKILL); its store stays.
func (n *NATS) Kill() {
	if n.proc != nil {
		n.proc.Kill()
	}
	n.proc = nil
}

// URL is the server's client URL.
func (n *NATS) URL() string { return "nats://" + n.addr() }

func (n *NATS) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.Port) }
