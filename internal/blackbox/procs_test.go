package blackbox

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// Binaries built by TestMain, under one temporary directory.
var bridgeBin, natsBin, floorBin string

// proc is one child process: its output kept, killed with the test
// process (Pdeathsig) or at the test's end.
type proc struct {
	name    string
	cmd     *exec.Cmd
	out     *syncbuf.Buffer
	stdin   io.WriteCloser
	done    chan struct{}
	started time.Time
}

// start starts bin with args and env (KEY=value, added to an environment
// without any BRIDGE_ variable of the benchmark's own).
func start(tb testing.TB, name, bin string, args []string, env ...string) *proc {
	tb.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncbuf.Buffer{}, done: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BRIDGE_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.kill()
		if tb.Failed() {
			tb.Logf("%s output, tail:\n%s", name, tail(p.out.String(), 4000))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to a minute, then kills. With
// BENCH_LOG_DIR set, it then writes the process's output there, named
// after the benchmark, the process and its pid.
func (p *proc) stop(tb testing.TB) {
	tb.Helper()
	defer p.keepLog(tb)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		tb.Errorf("%s still running a minute after SIGTERM", p.name)
		p.kill()
	}
}

func (p *proc) keepLog(tb testing.TB) {
	dir := os.Getenv("BENCH_LOG_DIR")
	if dir == "" {
		return
	}
	name := fmt.Sprintf("%s-%s-%d.log", strings.ReplaceAll(tb.Name(), "/", "_"), p.name, p.pid())
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), []byte(p.out.String()), 0o644)
	}
	if err != nil {
		tb.Log(err)
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// cpu is the process's own CPU time so far (utime+stime, not its
// children's), with USER_HZ resolution.
func (p *proc) cpu(tb testing.TB) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		tb.Fatalf("%s: %v", p.name, err)
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick
}

// peakRSS is the process's peak resident set size (VmHWM), in bytes.
func (p *proc) peakRSS(tb testing.TB) int64 {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		tb.Fatalf("%s: %v", p.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	tb.Fatalf("%s: no VmHWM", p.name)
	return 0
}

// waitFor polls cond every `every` until it holds, and fails tb with what
// after d. It fails at once when p (if not nil) has exited.
func waitFor(tb testing.TB, p *proc, d, every time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !cond() {
		if p != nil && p.exited() {
			tb.Fatalf("%s exited while waiting for %s", p.name, what)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s", d, what)
		}
		<-tick.C
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// listening reports whether addr accepts a TCP connection.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// httpOK reports whether GET url answers 200.
func httpOK(url string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
