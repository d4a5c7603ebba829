package blackbox

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/proctest"
)

const (
	benchAPIKey = "bench-key"
	benchOrg    = "bench-org"
	// benchPageSize is the simulator's export page (its default is 100).
	benchPageSize = 1000
	// commandConcurrency is the commands in flight, of bridge and floor.
	commandConcurrency = 64
)

// startNATS starts nats-server with JetStream on a new store, on its
// defaults otherwise (as users run it: files synced every 2 minutes), and
// waits until it listens.
func startNATS(tb testing.TB) (*proctest.Proc, string) { return startNATSOn(tb, tb.TempDir()) }

// startNATSOn is startNATS on the store dir.
func startNATSOn(tb testing.TB, dir string) (*proctest.Proc, string) {
	tb.Helper()
	n := &proctest.NATS{StoreDir: dir, Options: proctest.Options{LogDir: os.Getenv("BENCH_LOG_DIR"), LogAlways: true}}
	if pprofDir() != "" {
		n.ProfPort = proctest.FreePort(tb)
	}
	p := n.Start(tb)
	if n.ProfPort != 0 {
		natsProf.Store(p, fmt.Sprintf("127.0.0.1:%d", n.ProfPort))
	}
	return p, n.URL()
}

// startRoundNATS starts a nats-server on a new store of its own, for one
// round; stop stops it and removes the store.
func startRoundNATS(tb testing.TB) (p *proctest.Proc, url string, stop func()) {
	tb.Helper()
	dir, err := os.MkdirTemp("", "crm-bridge-blackbox-nats-")
	if err != nil {
		tb.Fatal(err)
	}
	p, url = startNATSOn(tb, dir)
	return p, url, func() {
		p.Stop(tb, time.Minute)
		os.RemoveAll(dir)
	}
}

// connect returns the benchmark's own connection to url.
func connect(tb testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name("blackbox"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// startSim starts `bridge crmsim` with customers seeded (seed 1), pages of
// benchPageSize and latency added to every request, and waits until it
// listens (it seeds first); extra flags follow.
func startSim(tb testing.TB, customers int, latency time.Duration, extra ...string) (*proctest.Proc, string) {
	tb.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(tb))
	p := start(tb, "crmsim", proctest.BridgePkg, append([]string{"crmsim", "--addr", addr, "--log-format", "json",
		"--api-key", benchAPIKey, "--org-id", benchOrg, "--rand-seed", "1",
		"--seed-customers", fmt.Sprint(customers), "--page-size", fmt.Sprint(benchPageSize),
		"--latency", latency.String()}, extra...))
	proctest.WaitFor(tb, p, 5*time.Minute, 50*time.Millisecond, "the simulator to listen", func() bool { return proctest.Listening(addr) })
	return p, "http://" + addr
}

// customerIDs returns every customer id of the simulator at url, read
// from its complete export.
func customerIDs(tb testing.TB, url string) []string {
	tb.Helper()
	c := crmClient(tb, url)
	var ids []string
	for page, err := range c.Export(context.Background(), time.Time{}) {
		if err != nil {
			tb.Fatal(err)
		}
		for _, cu := range page.Items {
			ids = append(ids, cu.ID)
		}
	}
	return ids
}

func crmClient(tb testing.TB, url string) *crm.Client {
	tb.Helper()
	c, err := crm.New(crm.Config{BaseURL: url, APIKey: benchAPIKey, OrgID: benchOrg, MaxConns: 64})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// startBridge starts `bridge run` against natsURL and crmURL with no CRM
// rate limit, commandConcurrency commands in flight, JSON logs, and env
// (KEY=value) besides; it waits for /readyz to answer 200 when ready is set.
func startBridge(tb testing.TB, natsURL, crmURL string, ready bool, env ...string) *proctest.Proc {
	tb.Helper()
	return startBridgeBin(tb, proctest.Build(tb, proctest.BridgePkg), natsURL, crmURL, ready, env...)
}

// startBridgeBin is startBridge with the bridge binary bin.
func startBridgeBin(tb testing.TB, bin, natsURL, crmURL string, ready bool, env ...string) *proctest.Proc {
	tb.Helper()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(tb))
	p := startBin(tb, "bridge", bin, []string{"run"}, append([]string{
		"BRIDGE_NATS_URL=" + natsURL, "BRIDGE_CRM_URL=" + crmURL,
		"BRIDGE_CRM_API_KEY=" + benchAPIKey, "BRIDGE_CRM_ORG_ID=" + benchOrg,
		"BRIDGE_CRM_RATE=0", fmt.Sprintf("BRIDGE_CONCURRENCY=%d", commandConcurrency),
		"BRIDGE_HTTP_ADDR=" + httpAddr, "BRIDGE_LOG_FORMAT=json",
	}, append(env, bridgeEnv()...)...)...)
	if ready {
		proctest.WaitFor(tb, p, 2*time.Minute, 20*time.Millisecond, "the bridge to be ready", func() bool {
			return proctest.OK("http://" + httpAddr + "/readyz")
		})
	}
	return p
}

// bridgeEnv is BENCH_BRIDGE_ENV's KEY=value words, added to every
// bridge's environment last (BRIDGE_PPROF=true, GOGC=50, ...), to profile
// or compare settings without an edit.
func bridgeEnv() []string { return strings.Fields(os.Getenv("BENCH_BRIDGE_ENV")) }

// startFloor starts the floor's job against natsURL and crmURL and waits
// for its "ready" line.
func startFloor(tb testing.TB, job, natsURL, crmURL string) *proctest.Proc {
	tb.Helper()
	p := start(tb, "floor", proctest.FloorPkg, []string{job, "--nats", natsURL, "--crm", crmURL,
		"--api-key", benchAPIKey, "--org-id", benchOrg, "--concurrency", fmt.Sprint(commandConcurrency)})
	proctest.WaitFor(tb, p, time.Minute, 10*time.Millisecond, "the floor to be ready", func() bool {
		return strings.Contains(p.Output.String(), "ready\n")
	})
	return p
}
