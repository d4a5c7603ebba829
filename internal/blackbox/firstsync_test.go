package blackbox

import (
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/proctest"

	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// baselineRev names the bridge that issue 12's first-sync target compares
// with: the parent of the commit that made the poller write the read
// model (CRM_CUSTOMERS). "The first sync of 1M customers, model included,
// takes no more than 1.2x today's first sync." BENCH_BASELINE_REV names
// another revision instead (main, say, to measure a branch against it).
const baselineRev = "0008e5d^"

// baselineOf returns the revision to compare with.
func baselineOf() string {
	if r := os.Getenv("BENCH_BASELINE_REV"); r != "" {
		return r
	}
	return baselineRev
}

// firstSyncScenario times the silent first sync (BRIDGE_POLLER_INITIAL_EVENTS
// unset: no events, every customer recorded in the poller's state, and, in
// the current bridge, one read model entry each) of the current bridge and
// of the baseline bridge (baselineRev), alternating, each round on a new
// nats-server store and against one simulator. It skips when the baseline
// cannot be built (no git, or a shallow clone without the revision).
func firstSyncScenario(tb testing.TB, customers, rounds int) []*table {
	tb.Helper()
	base := baselineBridge(tb)
	_, crmURL := startSim(tb, customers, 0)
	t := &table{title: fmt.Sprintf("silent first sync: %d customers, pages of %d; baseline = the bridge at %s",
		customers, benchPageSize, baselineOf())}
	sec := t.add("time to the first poll done (s)", true, "≤ 1.2")
	idx := t.add("time to the queries' index built (s)", false, "")
	cpu := t.add("bridge CPU (s)", true, "")
	rss := t.add("bridge peak RSS (MB)", true, "")
	ncpu := t.add("nats-server CPU (s)", true, "")
	nrss := t.add("nats-server peak RSS (MB)", true, "")
	// The read model alone: what the contract's CRM_CUSTOMERS costs with
	// nothing else, beside the baseline's whole first sync. Its figures'
	// names differ from t's: report names benchmark metrics after them.
	mt := &table{title: fmt.Sprintf("the read model alone: a bare client (floor model) putting the complete export of %d customers into %s, beside the baseline's silent first sync",
		customers, model.Bucket), heads: [2]string{"baseline", "model"}}
	msec := mt.add("model time (s)", true, "")
	mcpu := mt.add("model client CPU (s)", true, "")
	mncpu := mt.add("model nats-server CPU (s)", true, "")
	for range rounds {
		// The baseline is the table's "floor" column: the ratio is
		// current/baseline.
		for _, kind := range []string{"floor", "bridge"} {
			bin := proctest.Build(tb, proctest.BridgePkg)
			if kind == "floor" {
				bin = base
			}
			fs := firstSyncRound(tb, bin, crmURL, kind == "bridge")
			if kind == "floor" {
				msec.put("floor", fs.seconds)
				mcpu.put("floor", fs.cpu)
				mncpu.put("floor", fs.natsCPU)
			}
			sec.put(kind, fs.seconds)
			if kind == "bridge" {
				idx.put(kind, fs.indexed)
			}
			cpu.put(kind, fs.cpu)
			rss.put(kind, fs.rssMB)
			ncpu.put(kind, fs.natsCPU)
			nrss.put(kind, fs.natsMB)
		}
		mf := modelFloorRound(tb, crmURL, customers)
		msec.put("bridge", mf.seconds)
		mcpu.put("bridge", mf.cpu)
		mncpu.put("bridge", mf.natsCPU)
	}
	t.note("column floor: the baseline bridge; bridge: this one; ratio: this one / the baseline, per round")
	t.note("time: from the bridge process's start to its first \"poll done\" log line (the complete export recorded)")
	t.note("index: from the same start to its \"read model indexed\" line: find and list answer from then on (the index is built once the model is filled)")
	mt.note("time: the baseline's as above; the model's from the floor's start to the stored time of the last entry (the stream's last time)")
	mt.note("issue 12 allows the bridge's first sync, model included, 1.2 times the baseline's: here the model alone, on the same two cores, with nothing else")
	return []*table{t, mt}
}

// modelFloorRound starts a nats-server on a new store and the floor's
// model job, and measures until the bucket holds every customer.
func modelFloorRound(tb testing.TB, crmURL string, customers int) firstSync {
	tb.Helper()
	natsP, natsURL, stopNATS := startRoundNATS(tb)
	defer stopNATS()
	_, js := connect(tb, natsURL)
	p := start(tb, "floor", proctest.FloorPkg, []string{"model", "--nats", natsURL, "--crm", crmURL,
		"--api-key", benchAPIKey, "--org-id", benchOrg})
	defer p.Stop(tb, time.Minute)
	var st jetstream.StreamState
	proctest.WaitFor(tb, p, 60*time.Minute, 100*time.Millisecond, fmt.Sprintf("floor: %d model entries stored", customers), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		kv, err := js.KeyValue(ctx, model.Bucket)
		if err != nil {
			return false
		}
		status, err := kv.Status(ctx)
		if err != nil {
			return false
		}
		st = status.(*jetstream.KeyValueBucketStatus).StreamInfo().State
		return st.Msgs >= uint64(customers)
	})
	return firstSync{
		seconds: st.LastTime.Sub(p.Started()).Seconds(),
		cpu:     p.CPU(tb).Seconds(),
		natsCPU: natsP.CPU(tb).Seconds(),
	}
}

// firstSync is one round's figures.
type firstSync struct {
	seconds, cpu, rssMB, natsCPU, natsMB float64
	indexed                              float64 // with indexed: seconds to the queries' index built
}

// firstSyncRound starts a nats-server on a new store and the bridge bin,
// and measures until the bridge logs its first complete poll; with
// indexed, then until it logs its queries' index built (the CPU and
// memory figures are read before).
func firstSyncRound(tb testing.TB, bin, crmURL string, indexed bool) firstSync {
	tb.Helper()
	natsP, natsURL, stopNATS := startRoundNATS(tb)
	defer stopNATS()
	// A long interval: no second poll adds to the CPU read after the first.
	p := startBridgeBin(tb, bin, natsURL, crmURL, false, "BRIDGE_POLL_INTERVAL=1h")
	defer p.Stop(tb, time.Minute)
	var done []logLine
	proctest.WaitFor(tb, p, 60*time.Minute, 100*time.Millisecond, "the first poll to be done", func() bool {
		done = logLines(p, "poll done")
		return len(done) > 0
	})
	if done[0].Kind != "reconcile" || done[0].Events != 0 {
		tb.Fatalf("first poll: kind %q, %d events; want a reconcile without events", done[0].Kind, done[0].Events)
	}
	fs := firstSync{
		seconds: done[0].Time.Sub(p.Started()).Seconds(),
		cpu:     p.CPU(tb).Seconds(),
		rssMB:   float64(p.PeakRSS(tb)) / 1e6,
		natsCPU: natsP.CPU(tb).Seconds(),
		natsMB:  float64(natsP.PeakRSS(tb)) / 1e6,
	}
	if indexed {
		var lines []logLine
		proctest.WaitFor(tb, p, 30*time.Minute, 100*time.Millisecond, "the queries' index built", func() bool {
			lines = logLines(p, "read model indexed")
			return len(lines) > 0
		})
		fs.indexed = lines[0].Time.Sub(p.Started()).Seconds()
	}
	return fs
}

// builtRevs are the bridges built from other revisions, by revision: the
// binary, or why it could not be built.
var builtRevs struct {
	mu   sync.Mutex
	bins map[string][2]string
}

// baselineBridge returns the baseline bridge's binary (baselineOf); see
// bridgeAt.
func baselineBridge(tb testing.TB) string {
	tb.Helper()
	return bridgeAt(tb, baselineOf())
}

// bridgeAt returns the binary of the bridge at the revision rev: built
// once from `git archive` of rev, and kept in the user's cache directory
// under the revision's full hash. It skips tb when that cannot be done.
func bridgeAt(tb testing.TB, rev string) string {
	tb.Helper()
	builtRevs.mu.Lock()
	b, ok := builtRevs.bins[rev]
	if !ok {
		bin, why := buildRev(rev)
		b = [2]string{bin, why}
		if builtRevs.bins == nil {
			builtRevs.bins = map[string][2]string{}
		}
		builtRevs.bins[rev] = b
	}
	builtRevs.mu.Unlock()
	if b[1] != "" {
		tb.Skipf("no bridge at %s: %s", rev, b[1])
	}
	return b[0]
}

// buildRev builds the bridge at revision, or says why it cannot.
func buildRev(revision string) (bin, why string) {
	out, err := exec.Command("git", "rev-parse", "--verify", "--quiet", revision+"^{commit}").Output()
	if err != nil {
		return "", fmt.Sprintf("git cannot find %s (no git, or a shallow clone): %v", revision, err)
	}
	rev := strings.TrimSpace(string(out))
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Sprintf("git rev-parse --show-toplevel: %v", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin = filepath.Join(cache, "crm-bridge-blackbox", "bridge-"+rev)
	if _, err := os.Stat(bin); err == nil {
		return bin, ""
	}
	src, err := os.MkdirTemp("", "crm-bridge-baseline-")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(src)
	tarball := filepath.Join(src, "src.tar")
	// From the top: git archive in a subdirectory archives only that.
	archive := exec.Command("git", "archive", "-o", tarball, rev)
	archive.Dir = strings.TrimSpace(string(top))
	if out, err := archive.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("git archive %s: %v: %s", rev, err, out)
	}
	if out, err := exec.Command("tar", "-x", "-f", tarball, "-C", src).CombinedOutput(); err != nil {
		return "", fmt.Sprintf("tar: %v: %s", err, out)
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err.Error()
	}
	tmp := bin + ".tmp"
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=baseline", "-o", tmp, "./cmd/bridge")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("go build of %s: %v: %s", rev, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err.Error()
	}
	return bin, ""
}
