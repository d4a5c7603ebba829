package proctest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// Options are a child process's environment and where its log goes. The
// zero value inherits the test's environment and keeps no log file.
type Options struct {
	// Env is KEY=value settings over the test's own environment, from
	// which every BRIDGE_ variable is left out so that the developer's
	// shell cannot change a test. Default: none.
	Env []string
	// LogDir, when set, receives the process's whole output when the test
	// ends, as LogDir/<test>/<name>-<pid>.log: when the test failed, or
	// always with LogAlways. Default: no file; a failed test logs the
	// output's tail either way.
	LogDir    string
	LogAlways bool
}

// Proc is a program running as a child process of a test. Its stdout and
// stderr are kept, each alone and both together; its stdin is a pipe that
// stays open until it ends (a program that ends when stdin closes runs
// until then). It is killed with the test process (on Linux, by
// Pdeathsig) and, at the latest, when the test ends. Its methods are safe
// to call from any goroutine.
type Proc struct {
	// Name names it in failures and log files.
	Name string
	// Stdout, Stderr and Output (both, as they interleave) are what it has
	// written so far.
	Stdout, Stderr, Output *syncbuf.Buffer

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	done    chan struct{}
	err     error // cmd.Wait's, once done is closed
	started time.Time
}

// Start starts bin with args and opts, named name, and fails tb when it
// cannot. When tb ends, the process is killed and, if tb failed, the tail
// of its output logged.
func Start(tb testing.TB, name, bin string, args []string, opts Options) *Proc {
	tb.Helper()
	p := &Proc{Name: name, Stdout: &syncbuf.Buffer{}, Stderr: &syncbuf.Buffer{}, Output: &syncbuf.Buffer{},
		cmd: exec.Command(bin, args...), done: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BRIDGE_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Env = append(p.cmd.Env, opts.Env...)
	p.cmd.Stdout = io.MultiWriter(p.Stdout, p.Output)
	p.cmd.Stderr = io.MultiWriter(p.Stderr, p.Output)
	dieWithTest(p.cmd)
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("%s (pid %d) output, tail:\n%s", name, p.Pid(), Tail(p.Output.String(), 6000))
		}
		if opts.LogDir != "" && (tb.Failed() || opts.LogAlways) {
			p.writeLog(tb, opts.LogDir)
		}
	})
	return p
}

// Vars turns a map of settings into Options.Env's KEY=value form.
func Vars(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Started returns when it was started.
func (p *Proc) Started() time.Time { return p.started }

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err returns the exit error of a process that has ended (nil for
// status 0), and nil while it runs.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Signal sends sig to the process (SIGSTOP and SIGCONT to pause it, ...).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the process to end; it does nothing to
// one that has ended.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to within for the process to end; it
// returns its exit error (nil for status 0). A process still running then
// is killed and fails tb.
func (p *Proc) Stop(tb testing.TB, within time.Duration) error {
	tb.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		p.Kill()
		tb.Fatalf("%s still running %v after SIGTERM", p.Name, within)
		return nil
	}
}

func (p *Proc) writeLog(tb testing.TB, dir string) {
	dir = filepath.Join(dir, strings.ReplaceAll(tb.Name(), "/", "_"))
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.log", p.Name, p.Pid()))
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(path, []byte(p.Output.String()), 0o644)
	}
	if err != nil {
		tb.Log(err)
		return
	}
	tb.Logf("%s: whole output in %s", p.Name, path)
}

// LogValue returns the attribute key of the first JSON log line of
// p's stderr whose msg is msg, and whether there is one yet.
func (p *Proc) LogValue(msg, key string) (string, bool) {
	return LogValue(p.Stderr.String(), msg, key)
}

// LogValue returns the attribute key (a string) of the first JSON log line
// in logs whose msg is msg, and whether there is such a line.
func LogValue(logs, msg, key string) (string, bool) {
	for line := range strings.Lines(logs) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			v, _ := m[key].(string)
			return v, true
		}
	}
	return "", false
}

// WaitLogValue waits up to 30 seconds until logs hold a JSON log line
// whose msg is msg, and returns that line's attribute key; it fails tb
// when there is none by then.
func WaitLogValue(tb testing.TB, logs *syncbuf.Buffer, msg, key string) string {
	tb.Helper()
	var val string
	eventually.True(tb, 30*time.Second, "log line "+msg, func() bool {
		var ok bool
		val, ok = LogValue(logs.String(), msg, key)
		return ok
	})
	return val
}

// WaitFor polls cond every `every` until it holds, and fails tb with what
// after d. It fails at once when p (if not nil) has exited.
func WaitFor(tb testing.TB, p *Proc, d, every time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !cond() {
		if p != nil && p.Exited() {
			tb.Fatalf("%s exited (%v) while waiting for %s", p.Name, p.err, what)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s", d, what)
		}
		<-tick.C
	}
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// CPU is the process's own CPU time so far (utime+stime, not its
// children's), with USER_HZ resolution.
func (p *Proc) CPU(tb testing.TB) time.Duration {
	tb.Helper()
	d, err := ReadCPU(p.Pid())
	if err != nil {
		tb.Fatalf("%s: %v", p.Name, err)
	}
	return d
}

// PeakRSS is the process's peak resident set size (VmHWM), in bytes.
func (p *Proc) PeakRSS(tb testing.TB) int64 {
	tb.Helper()
	n, err := ReadPeakRSS(p.Pid())
	if err != nil {
		tb.Fatalf("%s: %v", p.Name, err)
	}
	return n
}

// ReadCPU returns the CPU time so far of the running process pid, its
// own (utime+stime, not its children's), from /proc/<pid>/stat, with
// USER_HZ resolution.
func ReadCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// ReadPeakRSS returns the peak resident set size (VmHWM) of the running
// process pid, in bytes, from /proc/<pid>/status.
func ReadPeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// Tail returns the last n bytes of s, marked as cut where they are.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
