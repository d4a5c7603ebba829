package blackbox

import (
	"github.com/gormic/crm-bridge/internal/proctest"

	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// BENCH_PPROF_DIR, when set, has the command scenarios and the bulk
// change (bulkBridge) start the bridge with BRIDGE_PPROF=true and write,
// for each round, a CPU profile of the bridge taken over the round
// (<benchmark>-<round>.profile.pprof) and its allocations since it
// started (<benchmark>-<round>.allocs.pprof), for `go tool pprof`; the
// bulk change also a CPU profile of nats-server over the same time
// (<benchmark>-<round>.nats.profile.pprof). A profile costs the process a
// little CPU: figures taken with it are not the ones to report.
func pprofDir() string { return os.Getenv("BENCH_PPROF_DIR") }

// pprofEnv is the bridge's environment for BENCH_PPROF_DIR.
func pprofEnv() []string {
	if pprofDir() == "" {
		return nil
	}
	return []string{"BRIDGE_PPROF=true"}
}

var httpListening = regexp.MustCompile(`"msg":"http listening","addr":"([^"]+)"`)

// httpAddr is the bridge's HTTP address, from its "http listening" line.
func httpAddr(tb testing.TB, p *proctest.Proc) string {
	tb.Helper()
	m := httpListening.FindStringSubmatch(p.Output.String())
	if m == nil {
		tb.Fatalf("%s: no http listening line", p.Name)
	}
	return m[1]
}

// profile starts, when BENCH_PPROF_DIR is set (else it does nothing), a
// CPU profile and an allocations profile of the bridge p over the next
// BENCH_PPROF_SECONDS (2); the returned wait waits for them and writes
// them under the directory, named after tb and round. The round should
// outlast them: raise BENCH_COMMANDS (or BENCH_COMMAND_SECONDS) to suit.
func profile(tb testing.TB, p *proctest.Proc, round string) (wait func()) {
	tb.Helper()
	dir := pprofDir()
	if dir == "" || p.Name != "bridge" {
		return func() {}
	}
	secs := os.Getenv("BENCH_PPROF_SECONDS")
	if secs == "" {
		secs = "2"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	base := "http://" + httpAddr(tb, p) + "/debug/pprof/"
	name := filepath.Join(dir, strings.ReplaceAll(tb.Name(), "/", "_")+"-"+round)
	var wg sync.WaitGroup
	for _, kind := range []string{"profile", "allocs"} {
		wg.Go(func() { fetch(tb, base+kind+"?seconds="+secs, name+"."+kind+".pprof") })
	}
	return wg.Wait
}

// natsProf holds the profiling address of each nats-server started with
// BENCH_PPROF_DIR set (startNATSOn).
var natsProf sync.Map // *proctest.Proc -> host:port

// profileServer is profile for the nats-server p: a CPU profile only,
// <benchmark>-<round>.nats.profile.pprof.
func profileServer(tb testing.TB, p *proctest.Proc, round string) (wait func()) {
	tb.Helper()
	addr, ok := natsProf.Load(p)
	if !ok {
		return func() {}
	}
	secs := os.Getenv("BENCH_PPROF_SECONDS")
	if secs == "" {
		secs = "2"
	}
	name := filepath.Join(pprofDir(), strings.ReplaceAll(tb.Name(), "/", "_")+"-"+round+".nats.profile.pprof")
	var wg sync.WaitGroup
	wg.Go(func() { fetch(tb, "http://"+addr.(string)+"/debug/pprof/profile?seconds="+secs, name) })
	return wg.Wait
}

// fetch writes what GET url answers to file, or logs why not.
func fetch(tb testing.TB, url, file string) {
	resp, err := http.Get(url)
	if err != nil {
		tb.Log(err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s: %.200s", url, resp.Status, b)
	}
	if err == nil {
		err = os.WriteFile(file, b, 0o644)
	}
	if err != nil {
		tb.Log(err)
	}
}
