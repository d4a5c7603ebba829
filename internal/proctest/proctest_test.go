package proctest

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child's streams are kept apart and together, its environment is the
// test's without BRIDGE_ variables plus its own, and SIGTERM stops it.
func TestProc(t *testing.T) {
	t.Setenv("BRIDGE_FROM_THE_SHELL", "leaked")
	script := `echo "out $BRIDGE_OWN ${BRIDGE_FROM_THE_SHELL:-unset}"; echo '{"msg":"http listening","addr":"127.0.0.1:1"}' >&2; exec sleep 60`
	p := Start(t, "sh", "/bin/sh", []string{"-c", script}, Options{Env: []string{"BRIDGE_OWN=mine"}})
	if addr := WaitLogValue(t, p.Stderr, "http listening", "addr"); addr != "127.0.0.1:1" {
		t.Errorf("WaitLogValue: got %q, want 127.0.0.1:1", addr)
	}
	WaitFor(t, p, 10*time.Second, time.Millisecond, "a line on stdout", func() bool { return strings.Contains(p.Stdout.String(), "\n") })
	if got, want := p.Stdout.String(), "out mine unset\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	if got := p.Output.String(); !strings.Contains(got, "out mine") || !strings.Contains(got, "http listening") {
		t.Errorf("output: got %q, want both streams", got)
	}
	if p.Exited() || p.Err() != nil {
		t.Fatalf("exited %v (%v) before it was stopped", p.Exited(), p.Err())
	}
	if cpu, err := ReadCPU(p.Pid()); err != nil || cpu < 0 {
		t.Errorf("ReadCPU: got %v, %v", cpu, err)
	}
	if rss, err := ReadPeakRSS(p.Pid()); err != nil || rss <= 0 {
		t.Errorf("ReadPeakRSS: got %v, %v; want a size", rss, err)
	}
	err := p.Stop(t, 10*time.Second)
	var exit *exec.ExitError
	if !p.Exited() || !errors.As(err, &exit) {
		t.Fatalf("after SIGTERM: exited %v, error %v; want an exit error", p.Exited(), err)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
		t.Errorf("after SIGTERM: got %v, want the end by SIGTERM", err)
	}
	p.Kill() // nothing to an ended process
}

// WaitFor fails at once, naming the process, when it has exited.
func TestWaitForFailsWhenTheProcessExits(t *testing.T) {
	p := Start(t, "three", "/bin/sh", []string{"-c", "exit 3"}, Options{})
	<-p.Done()
	if p.Err() == nil {
		t.Error("exit 3: got no error")
	}
	ft := &fatalT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFor(ft, p, time.Minute, time.Millisecond, "a line", func() bool { return false })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFor still waits for an ended process")
	}
	if !strings.Contains(ft.msg, "three exited") {
		t.Errorf("WaitFor's failure: got %q, want it to say that three exited", ft.msg)
	}
}

// fatalT records a Fatalf and ends its goroutine, as testing.T does.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Helper() {}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestFreePorts(t *testing.T) {
	ports := FreePorts(t, 3)
	if len(ports) != 3 || ports[0] == ports[1] || ports[1] == ports[2] || ports[0] == ports[2] {
		t.Fatalf("got %v, want three distinct ports", ports)
	}
	if Listening("127.0.0.1:" + strconv.Itoa(ports[0])) {
		t.Errorf("port %d: something listens on a port just free", ports[0])
	}
}
