package poller

// The poller's benchmarks over a million customers (issue 4), each against
// a floor that the same run measures: see docs/performance.md.
//
// Every process that does work runs on its own, so that its peak RSS and
// CPU time are its own: the test binary runs itself again (TestMain,
// benchChildEnv) as the CRM simulator holding the customers, as the NATS
// server, as the floor and as the poller. The benchmark process starts
// them, makes the CRM updates and reads the figures: wall times measured
// inside the floor and poller processes, their peak RSS and CPU time from
// their rusage, and the servers' peak RSS from /proc/<pid>/status (VmHWM).
//
// Set CRM_BRIDGE_POLLER_BENCH_CPUPROFILE to a directory to have the floor
// and poller processes write CPU profiles of their measured part there,
// and the NATS server one of its life (go test's -cpuprofile profiles
// only the benchmark process). TEST_LOG=1 passes the children's logs
// through to stderr. CRM_BRIDGE_POLLER_BENCH_CUSTOMERS=200000 (say) runs
// them over fewer customers than the million.

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

const (
	benchPageSize = 1000
	benchRandSeed = 1
	benchChanges  = 1000
	benchOrg      = "org-bench"
	benchAPIKey   = "bench-key"

	// benchChildEnv names the role of a child process; benchArgsEnv holds
	// its benchArgs.
	benchChildEnv   = "CRM_BRIDGE_POLLER_BENCH_CHILD"
	benchArgsEnv    = "CRM_BRIDGE_POLLER_BENCH_ARGS"
	benchProfileEnv = "CRM_BRIDGE_POLLER_BENCH_CPUPROFILE"
	// benchCustomersEnv, when set, replaces the million customers (to
	// iterate on 100,000 or 300,000, say).
	benchCustomersEnv = "CRM_BRIDGE_POLLER_BENCH_CUSTOMERS"

	// benchTimeout bounds each wait for a child process.
	benchTimeout = 5 * time.Minute
)

// benchCustomers is how many customers the simulator holds: a million,
// or benchCustomersEnv.
var benchCustomers = func() int {
	if n, err := strconv.Atoi(os.Getenv(benchCustomersEnv)); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}()

// benchArgs is what a child process is told.
type benchArgs struct {
	Paging   string `json:"paging,omitempty"`   // crmsim
	StoreDir string `json:"storeDir,omitempty"` // nats
	CRM      string `json:"crm,omitempty"`      // floor, poller: the simulator's URL
	NATS     string `json:"nats,omitempty"`     // poller
	Since    string `json:"since,omitempty"`    // floor: updatedSince (RFC 3339), empty for the complete export
}

// benchReport is what a child process writes to its stdout, one JSON
// line. Times are seconds from the start of its measured part.
type benchReport struct {
	URL string `json:"url,omitempty"` // crmsim, nats

	// floor: the export read and decoded.
	Seconds float64 `json:"seconds,omitempty"`
	Records int     `json:"records,omitempty"`

	// poller, from the call of Start: when it became the active poller,
	// when its pass started (the cursor claimed and the index rebuilt:
	// Status().LastComplete), when the last event was acknowledged, when
	// Status().Polls reached 1 (the last record and the cursor saved).
	Active    float64  `json:"active,omitempty"`
	PassStart float64  `json:"passStart,omitempty"`
	LastAck   float64  `json:"lastAck,omitempty"`
	Complete  float64  `json:"complete,omitempty"`
	Events    int64    `json:"events,omitempty"`
	Errors    []string `json:"errors,omitempty"` // poll errors seen, which the poller retried
}

// runBenchChild runs this process as a benchmark's child of role and
// returns its exit code.
func runBenchChild(role string) int {
	var a benchArgs
	if err := json.Unmarshal([]byte(os.Getenv(benchArgsEnv)), &a); err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
		return 2
	}
	// The benchmark process holds the other end of stdin: when it closes it
	// or exits, this process ends.
	parentGone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(parentGone)
	}()
	var err error
	switch role {
	case "crmsim":
		err = childSim(a, parentGone)
	case "nats":
		err = childNATS(a, parentGone)
	case "floor", "poller":
		go func() {
			<-parentGone
			os.Exit(3)
		}()
		if role == "floor" {
			err = childFloor(a)
		} else {
			err = childPoller(a)
		}
	default:
		err = errors.New("unknown role")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
		return 1
	}
	return 0
}

func writeReport(r benchReport) error { return json.NewEncoder(os.Stdout).Encode(r) }

// childSim serves a simulator seeded with the benchmark's customers until
// the benchmark process lets go.
func childSim(a benchArgs, parentGone <-chan struct{}) error {
	var paging crmsim.Paging
	if err := paging.UnmarshalText([]byte(a.Paging)); err != nil {
		return err
	}
	sim, err := crmsim.New(crmsim.Options{PageSize: benchPageSize, Paging: paging, RandSeed: benchRandSeed})
	if err != nil {
		return err
	}
	sim.Seed(benchCustomers)
	runtime.GC() // the seed's garbage, before serving
	if err := sim.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer sim.Close()
	if err := writeReport(benchReport{URL: sim.URL()}); err != nil {
		return err
	}
	<-parentGone
	return nil
}

// childNATS serves an embedded JetStream server until the benchmark
// process lets go. It syncs its files every second, as the commands'
// benchmark does, rather than on every write, which would measure the
// disk.
func childNATS(a benchArgs, parentGone <-chan struct{}) error {
	parent := os.Getppid()
	srv, err := embedded.Start(embedded.Options{Port: -1, StoreDir: a.StoreDir, SyncInterval: time.Second})
	if err != nil {
		return err
	}
	if err := writeReport(benchReport{URL: srv.ClientURL()}); err != nil {
		srv.Shutdown()
		return err
	}
	stop, err := startProfile("nats")
	if err != nil {
		srv.Shutdown()
		return err
	}
	<-parentGone
	stop()
	srv.Shutdown()
	if os.Getppid() != parent {
		// The benchmark process died (a timeout, say) and cannot remove
		// the store: half a gigabyte.
		return os.RemoveAll(a.StoreDir)
	}
	return nil
}

// benchClient is the CRM client of the floor and the poller alike: the
// defaults, no rate limit.
func benchClient(url string) (*crm.Client, error) {
	return crm.New(crm.Config{BaseURL: url, APIKey: benchAPIKey, OrgID: benchOrg})
}

// startProfile starts a CPU profile of this process when benchProfileEnv
// asks for one, and returns its stop.
func startProfile(role string) (stop func(), err error) {
	dir := os.Getenv(benchProfileEnv)
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", role, os.Getpid())))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// childFloor is the floor: it pages through the export and decodes it,
// with the poller's client, and nothing else.
func childFloor(a benchArgs) error {
	client, err := benchClient(a.CRM)
	if err != nil {
		return err
	}
	defer client.Close()
	var since time.Time
	if a.Since != "" {
		if since, err = time.Parse(time.RFC3339Nano, a.Since); err != nil {
			return err
		}
	}
	stop, err := startProfile("floor")
	if err != nil {
		return err
	}
	start := time.Now()
	n := 0
	for page, err := range client.Export(context.Background(), since) {
		if err != nil {
			return err
		}
		n += len(page.Items)
	}
	elapsed := time.Since(start)
	stop()
	return writeReport(benchReport{Seconds: elapsed.Seconds(), Records: n})
}

// childPoller starts a poller (Interval 1h: it makes one pass), waits
// until its first poll is complete, stops it, and reports when each step
// happened.
func childPoller(a benchArgs) error {
	nc, err := nats.Connect(a.NATS)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	client, err := benchClient(a.CRM)
	if err != nil {
		return err
	}
	defer client.Close()
	logger := slog.New(slog.DiscardHandler)
	if os.Getenv("TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	p, err := New(js, client, Config{Prefix: "crm", OrgID: benchOrg, Interval: time.Hour, Logger: logger})
	if err != nil {
		return err
	}
	var (
		t0      time.Time
		events  atomic.Int64
		lastAck atomic.Int64 // time.Duration since t0
	)
	p.afterEvent = func(Event) error {
		d := int64(time.Since(t0))
		for {
			old := lastAck.Load()
			if d <= old || lastAck.CompareAndSwap(old, d) {
				break
			}
		}
		events.Add(1)
		return nil
	}
	stopProfile, err := startProfile("poller")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	t0 = time.Now()
	if err := p.Start(ctx); err != nil {
		return err
	}
	var (
		errs []string
		s    Status
	)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if s = p.Status(); s.Polls >= 1 {
			break
		}
		if s.Err != nil && (len(errs) == 0 || errs[len(errs)-1] != s.Err.Error()) {
			errs = append(errs, s.Err.Error())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no complete poll within %v (last error: %v)", benchTimeout, s.Err)
		case <-tick.C:
		}
	}
	complete := time.Since(t0)
	stopProfile()
	rep := benchReport{
		Active:    s.ActiveSince.Sub(t0).Seconds(),
		PassStart: s.LastComplete.Sub(t0).Seconds(),
		Complete:  complete.Seconds(),
		Events:    events.Load(),
		Errors:    errs,
	}
	if rep.Events > 0 {
		rep.LastAck = time.Duration(lastAck.Load()).Seconds()
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := p.Stop(sctx); err != nil {
		return err
	}
	return writeReport(rep)
}

// benchProc is a child process of a benchmark.
type benchProc struct {
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // its stdout
	stderr *syncbuf.Buffer
	done   chan struct{} // closed once it has exited
	err    error         // cmd.Wait's, once done
}

// startProc starts this test binary again as a child of role.
func startProc(role string, a benchArgs) (*benchProc, error) {
	args, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+role, benchArgsEnv+"="+string(args))
	p := &benchProc{role: role, cmd: cmd, lines: make(chan string, 16), stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if os.Getenv("TEST_LOG") != "" {
		cmd.Stderr = io.MultiWriter(os.Stderr, p.stderr)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// report returns the next report the child writes.
func (p *benchProc) report() (benchReport, error) {
	var line string
	select {
	case line = <-p.lines:
	case <-p.done:
		select {
		case line = <-p.lines:
		default:
			return benchReport{}, fmt.Errorf("%s exited (%v) without a report:\n%s", p.role, p.err, proctest.Tail(p.stderr.String(), 4096))
		}
	case <-time.After(benchTimeout):
		p.kill()
		return benchReport{}, fmt.Errorf("%s: no report within %v:\n%s", p.role, benchTimeout, proctest.Tail(p.stderr.String(), 4096))
	}
	var r benchReport
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, fmt.Errorf("%s: report %q: %w", p.role, line, err)
	}
	return r, nil
}

// usage is what a child process used, over its life.
type usage struct {
	rssMB float64 // peak resident set, 10^6 bytes
	cpu   time.Duration
}

// wait waits for the child to exit by itself and returns its usage.
func (p *benchProc) wait() (usage, error) {
	select {
	case <-p.done:
	case <-time.After(benchTimeout):
		p.kill()
		return usage{}, fmt.Errorf("%s did not exit within %v", p.role, benchTimeout)
	}
	if p.err != nil {
		return usage{}, fmt.Errorf("%s: %v:\n%s", p.role, p.err, proctest.Tail(p.stderr.String(), 4096))
	}
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{}, errors.New("no rusage")
	}
	return usage{
		rssMB: float64(ru.Maxrss) * 1024 / 1e6, // Linux: KiB
		cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
	}, nil
}

// cpuSeconds returns the CPU time (user and system) the child has used so
// far; 0 if it cannot tell.
func (p *benchProc) cpuSeconds() float64 {
	d, err := proctest.ReadCPU(p.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return d.Seconds()
}

// peakRSS returns the running child's peak resident set (VmHWM), in 10^6
// bytes, or 0 when it cannot tell.
func (p *benchProc) peakRSS() float64 {
	n, err := proctest.ReadPeakRSS(p.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	return float64(n) / 1e6
}

// stop tells a server child to exit and waits for it.
func (p *benchProc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
	}
}

func (p *benchProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// runChild runs a floor or poller child to its end.
func runChild(b *testing.B, role string, a benchArgs) (benchReport, usage) {
	b.Helper()
	p, err := startProc(role, a)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := p.report()
	if err != nil {
		p.kill()
		b.Fatal(err)
	}
	u, err := p.wait()
	if err != nil {
		b.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		b.Fatalf("%s: its pass failed and was retried: %q", role, rep.Errors)
	}
	return rep, u
}

// benchShared holds the children that the runs of the benchmarks share
// (-count): the simulators, seeded once per paging, and the changes'
// worlds. TestMain stops them.
var benchShared struct {
	mu     sync.Mutex
	sims   map[crmsim.Paging]*benchSim
	worlds map[crmsim.Paging]*changesWorld
	ids    []string
	stops  []func()
}

func stopBenchShared() {
	benchShared.mu.Lock()
	defer benchShared.mu.Unlock()
	for _, stop := range slices.Backward(benchShared.stops) {
		stop()
	}
	benchShared.stops = nil
}

// benchSim is a simulator child holding benchCustomers customers.
type benchSim struct {
	proc *benchProc
	url  string
}

// sharedSim returns the simulator of paging, started on first use.
func sharedSim(b *testing.B, paging crmsim.Paging) *benchSim {
	b.Helper()
	benchShared.mu.Lock()
	defer benchShared.mu.Unlock()
	if s := benchShared.sims[paging]; s != nil {
		return s
	}
	start := time.Now()
	p, err := startProc("crmsim", benchArgs{Paging: paging.String()})
	if err != nil {
		b.Fatal(err)
	}
	benchShared.stops = append(benchShared.stops, p.stop)
	rep, err := p.report()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("simulator (%s paging) seeded with %d customers in %v", paging, benchCustomers, time.Since(start).Round(time.Millisecond))
	s := &benchSim{proc: p, url: rep.URL}
	if benchShared.sims == nil {
		benchShared.sims = make(map[crmsim.Paging]*benchSim)
	}
	benchShared.sims[paging] = s
	return s
}

// benchNATS is a NATS server child with the bridge's streams, and a
// connection to it.
type benchNATS struct {
	once sync.Once
	proc *benchProc
	url  string
	dir  string
	nc   *nats.Conn
	js   jetstream.JetStream
}

// startNATS starts a NATS server child on a new store.
func startNATS(b *testing.B) *benchNATS {
	b.Helper()
	dir, err := os.MkdirTemp("", "poller-bench-nats-")
	if err != nil {
		b.Fatal(err)
	}
	n := &benchNATS{dir: dir}
	if err := n.start(); err != nil {
		n.stop()
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.Ensure(ctx, n.js, streams.Config{Prefix: "crm", Replicas: 1, Partitions: streams.CommandPartitions}); err != nil {
		n.stop()
		b.Fatal(err)
	}
	return n
}

// start starts the server on n's store and connects to it.
func (n *benchNATS) start() error {
	var err error
	if n.proc, err = startProc("nats", benchArgs{StoreDir: n.dir}); err != nil {
		return err
	}
	rep, err := n.proc.report()
	if err != nil {
		return err
	}
	n.url = rep.URL
	if n.nc, err = nats.Connect(n.url); err != nil {
		return err
	}
	n.js, err = jetstream.New(n.nc)
	return err
}

// restart stops the server and starts another on the same store, whose
// caches are cold.
func (n *benchNATS) restart(b *testing.B) {
	b.Helper()
	n.nc.Close()
	n.proc.stop()
	if err := n.start(); err != nil {
		b.Fatal(err)
	}
}

// stop stops the server and removes its store.
func (n *benchNATS) stop() {
	n.once.Do(func() {
		if n.nc != nil {
			n.nc.Close()
		}
		if n.proc != nil {
			n.proc.stop()
		}
		os.RemoveAll(n.dir)
	})
}

// modelEntries returns how many messages the read model's stream holds.
func (n *benchNATS) modelEntries(b *testing.B) uint64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := n.js.Stream(ctx, "KV_"+model.Bucket)
	if err != nil {
		b.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// events returns how many messages CRM_EVENTS holds.
func (n *benchNATS) events(b *testing.B) uint64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := n.js.Stream(ctx, streams.Events)
	if err != nil {
		b.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// cursor returns the poller's saved cursor.
func (n *benchNATS) cursor(b *testing.B) cursor {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := stateStore(b, n.js).cursor(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// chunkIDs returns the ids of the customers in the poller's chunks.
func (n *benchNATS) chunkIDs(b *testing.B) []string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	var ids []string
	err := stateStore(b, n.js).scan(ctx, "b.>", false, func(_ string, m jetstream.Msg) error {
		return readChunk(m.Data(), func(r chunkRecord) bool {
			ids = append(ids, r.id)
			return true
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

// firstStartRun is one first start: the floor and the poller, each in its
// own process.
type firstStartRun struct {
	floor, poller benchReport
	floorUse      usage
	pollerUse     usage
	natsMB        float64
	natsCPU       float64
	// The simulator's CPU time while the floor ran, and the poller.
	simFloorCPU, simPollerCPU float64
}

func (r firstStartRun) ratio() float64 { return r.poller.Complete / r.floor.Seconds }

// BenchmarkPollerFirstStart measures a first start over a million
// customers (pages of 1,000), from Start until the first complete poll,
// on empty state (a new NATS server and store each time), against the
// floor: paging through the same export and decoding it, nothing else.
// Floor and poller alternate.
func BenchmarkPollerFirstStart(b *testing.B) {
	if testing.Short() {
		b.Skip("a million customers: not with -short")
	}
	// The simulator's default paging only. With offset paging, reaching
	// position p costs the simulator O(p): that adds some 15 s to the
	// floor and the poller alike, which says nothing of the poller, and
	// five runs of both pagings would not fit in go test's 10 minutes.
	for _, paging := range []crmsim.Paging{crmsim.PagingKeyset} {
		b.Run("paging="+paging.String(), func(b *testing.B) {
			sim := sharedSim(b, paging)
			var runs []firstStartRun
			for b.Loop() {
				var r firstStartRun
				simCPU := sim.proc.cpuSeconds()
				r.floor, r.floorUse = runChild(b, "floor", benchArgs{CRM: sim.url})
				r.simFloorCPU = sim.proc.cpuSeconds() - simCPU
				if r.floor.Records != benchCustomers {
					b.Fatalf("the floor read %d customers, want %d", r.floor.Records, benchCustomers)
				}
				ns := startNATS(b)
				b.Cleanup(ns.stop) // if the run fails
				simCPU = sim.proc.cpuSeconds()
				r.poller, r.pollerUse = runChild(b, "poller", benchArgs{CRM: sim.url, NATS: ns.url})
				r.simPollerCPU = sim.proc.cpuSeconds() - simCPU
				r.natsMB = ns.proc.peakRSS()
				r.natsCPU = ns.proc.cpuSeconds()
				c := ns.cursor(b)
				events := ns.events(b)
				entries := ns.modelEntries(b)
				ns.stop()
				if !c.Initialized || events != 0 || r.poller.Events != 0 {
					b.Fatalf("after a first start: cursor %+v, %d events (%d acknowledged), want initialized and none", c, events, r.poller.Events)
				}
				if entries != uint64(benchCustomers) {
					b.Fatalf("after a first start: the read model holds %d entries, want %d", entries, benchCustomers)
				}
				runs = append(runs, r)
			}
			m := medianBy(runs, firstStartRun.ratio)
			b.ReportMetric(m.ratio(), "ratio")
			b.ReportMetric(m.floor.Seconds, "floor-s")
			b.ReportMetric(m.poller.Complete, "poller-s")
			b.ReportMetric(medianBy(runs, func(r firstStartRun) float64 { return r.pollerUse.rssMB }).pollerUse.rssMB, "rss-MB")
			b.ReportMetric(m.pollerUse.cpu.Seconds(), "cpu-s")
			b.ReportMetric(m.floorUse.cpu.Seconds(), "floor-cpu-s")
			b.ReportMetric(m.floorUse.rssMB, "floor-rss-MB")
			b.ReportMetric(m.natsMB, "nats-rss-MB")
			b.ReportMetric(m.natsCPU, "nats-cpu-s")
			b.ReportMetric(m.simFloorCPU, "sim-floor-cpu-s")
			b.ReportMetric(m.simPollerCPU, "sim-cpu-s")
			b.ReportMetric(sim.proc.peakRSS(), "sim-rss-MB")
		})
	}
}

// medianBy returns the run with the median key (the upper one of an even
// number).
func medianBy[R any](runs []R, key func(R) float64) R {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b R) int {
		switch ka, kb := key(a), key(b); {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

// changesWorld is a poller's state after a first start over the
// simulator of one paging, kept across the runs of the changes
// benchmark, with the customers' ids in a random order: each run updates
// the next benchChanges of them.
type changesWorld struct {
	sim    *benchSim
	nats   *benchNATS
	client *crm.Client
	ids    []string
	next   int
	round  int
}

// sharedWorld returns the changes' world of paging, made on first use.
func sharedWorld(b *testing.B, paging crmsim.Paging) *changesWorld {
	b.Helper()
	sim := sharedSim(b, paging)
	benchShared.mu.Lock()
	defer benchShared.mu.Unlock()
	if w := benchShared.worlds[paging]; w != nil {
		return w
	}
	w := &changesWorld{sim: sim}
	var err error
	if w.client, err = benchClient(sim.url); err != nil {
		b.Fatal(err)
	}
	w.nats = startNATS(b)
	benchShared.stops = append(benchShared.stops, w.nats.stop, w.client.Close)
	rep, _ := runChild(b, "poller", benchArgs{CRM: sim.url, NATS: w.nats.url})
	b.Logf("changes (%s paging): first start in %.1fs", paging, rep.Complete)
	// Every simulator holds the same customers (the same RandSeed): their
	// ids are read once, from the chunks the first start wrote, which is
	// much quicker than from the CRM.
	if benchShared.ids == nil {
		benchShared.ids = w.nats.chunkIDs(b)
		if len(benchShared.ids) != benchCustomers {
			b.Fatalf("the first start recorded %d customers, want %d", len(benchShared.ids), benchCustomers)
		}
	}
	w.ids = slices.Clone(benchShared.ids)
	rng := rand.New(rand.NewPCG(uint64(paging), 4))
	rng.Shuffle(len(w.ids), func(i, j int) { w.ids[i], w.ids[j] = w.ids[j], w.ids[i] })
	if benchShared.worlds == nil {
		benchShared.worlds = make(map[crmsim.Paging]*changesWorld)
	}
	benchShared.worlds[paging] = w
	return w
}

// update changes the first name of the next benchChanges customers
// through the CRM's API, 16 at a time.
func (w *changesWorld) update(b *testing.B) {
	b.Helper()
	if w.next+benchChanges > len(w.ids) {
		w.next = 0
	}
	ids := w.ids[w.next : w.next+benchChanges]
	w.next += benchChanges
	w.round++
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	next := make(chan int)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed error
	)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				name := fmt.Sprintf("Bench-%d-%d", w.round, i)
				if err := w.client.Update(ctx, ids[i], crm.UpdateParams{FirstName: &name}); err != nil {
					mu.Lock()
					failed = cmp.Or(failed, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	if failed != nil {
		b.Fatalf("update: %v", failed)
	}
}

// changesRun is one poll that finds benchChanges changes.
type changesRun struct {
	poller    benchReport
	pollerUse usage
	floor     benchReport
	natsMB    float64
}

func (r changesRun) pass() float64    { return r.poller.Complete - r.poller.PassStart }
func (r changesRun) lastAck() float64 { return r.poller.LastAck - r.poller.PassStart }

// BenchmarkPollerChanges measures a poll that finds 1,000 changes among a
// million customers. The state of a first start is kept across runs; each
// run restarts the NATS server, updates 1,000 customers at random through
// the CRM's API while no poller runs, then starts a poller, which takes
// over (it claims the state and rebuilds its index: timed apart) and
// makes its first pass: timed from the pass's start (Status().
// LastComplete) to the last event acknowledged, and to the poll's end (the
// last record and the cursor saved). The floor is reading and decoding
// the same export pages.
func BenchmarkPollerChanges(b *testing.B) {
	if testing.Short() {
		b.Skip("a million customers: not with -short")
	}
	for _, paging := range []crmsim.Paging{crmsim.PagingOffset, crmsim.PagingKeyset} {
		b.Run("paging="+paging.String(), func(b *testing.B) {
			w := sharedWorld(b, paging)
			overlap := Config{}.withDefaults().Overlap
			var runs []changesRun
			for b.Loop() {
				var r changesRun
				// A new server, whose cache holds no block of the state,
				// as when the blocks a poll reads were last read over 10 s
				// ago, and as after a takeover's rebuild, which reads every
				// block once, in order, and lets each go. Back to back, a
				// run would find the blocks that the previous run loaded
				// still cached, and take half the time.
				w.nats.restart(b)
				c := w.nats.cursor(b)
				since, err := time.Parse(time.RFC3339Nano, c.Since)
				if err != nil {
					b.Fatalf("cursor %+v: %v", c, err)
				}
				before := w.nats.events(b)
				w.update(b)
				r.poller, r.pollerUse = runChild(b, "poller", benchArgs{CRM: w.sim.url, NATS: w.nats.url})
				r.natsMB = w.nats.proc.peakRSS()
				if got := w.nats.events(b) - before; got != benchChanges || r.poller.Events != benchChanges {
					b.Fatalf("%d events stored, %d acknowledged, want %d", got, r.poller.Events, benchChanges)
				}
				r.floor, _ = runChild(b, "floor", benchArgs{CRM: w.sim.url, Since: since.Add(-overlap).Format(time.RFC3339Nano)})
				runs = append(runs, r)
			}
			m := medianBy(runs, changesRun.pass)
			b.ReportMetric(m.pass(), "pass-s")
			b.ReportMetric(medianBy(runs, changesRun.lastAck).lastAck(), "last-ack-s")
			b.ReportMetric(medianBy(runs, func(r changesRun) float64 { return r.floor.Seconds }).floor.Seconds, "floor-s")
			b.ReportMetric(float64(m.floor.Records), "records")
			b.ReportMetric(medianBy(runs, func(r changesRun) float64 { return r.poller.PassStart }).poller.PassStart, "takeover-s")
			b.ReportMetric(medianBy(runs, func(r changesRun) float64 { return r.pollerUse.rssMB }).pollerUse.rssMB, "rss-MB")
			b.ReportMetric(m.natsMB, "nats-rss-MB")
			b.ReportMetric(w.sim.proc.peakRSS(), "sim-rss-MB")
		})
	}
}
