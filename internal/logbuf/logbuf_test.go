package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gormic/crm-bridge/internal/eventually"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the Writer's goroutine and the
// test's, counting the writes it gets.
type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestEveryLineWhole writes lines from many goroutines: after Close each
// is out once and whole, and each goroutine's in its order.
func TestEveryLineWhole(t *testing.T) {
	var out syncBuffer
	w := New(&out)
	const writers, lines = 16, 500
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(w, "writer %d line %d %s\n", g, i, strings.Repeat("x", i%50))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l, "writer %d line %d", &g, &i); err != nil || g < 0 || g >= writers {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[g] || l != fmt.Sprintf("writer %d line %d %s", g, i, strings.Repeat("x", i%50)) {
			t.Fatalf("line %q: want writer %d's line %d, whole", l, g, next[g])
		}
		next[g]++
	}
	if len(got) != writers*lines {
		t.Errorf("got %d lines, want %d", len(got), writers*lines)
	}
	t.Logf("%d lines in %d writes", len(got), out.writes)
}

// gate is an io.Writer that blocks every write until open is closed.
type gate struct {
	syncBuffer
	open    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return g.syncBuffer.Write(p)
}

// TestWaitsWhenOutputStalls: with the output stuck, Write takes lines
// until MaxPending is held, then waits; once the output moves, all is
// written.
func TestWaitsWhenOutputStalls(t *testing.T) {
	out := &gate{open: make(chan struct{}), entered: make(chan struct{})}
	w := New(out)
	line := []byte(strings.Repeat("y", 1023) + "\n")
	_, _ = w.Write(line) // the goroutine takes it, and is stuck writing it
	<-out.entered
	for range MaxPending / len(line) {
		_, _ = w.Write(line)
	}
	blocked := make(chan struct{})
	go func() {
		_, _ = w.Write(line)
		close(blocked)
	}()
	select {
	case <-blocked:
		t.Fatal("Write returned with MaxPending held and the output stuck")
	case <-time.After(50 * time.Millisecond): // an absence: bounded, not a sync
	}
	close(out.open)
	<-blocked
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(out.String()), (MaxPending/len(line)+2)*len(line); got != want {
		t.Errorf("got %d bytes, want %d", got, want)
	}
}

// TestCloseWritesAllAndAfter: Close writes what is held; a Write after it
// goes straight out; Close returns the output's error.
func TestCloseWritesAllAndAfter(t *testing.T) {
	var out syncBuffer
	w := New(&out)
	fmt.Fprint(w, "a\n")
	if !eventually.Within(10*time.Second, func() bool { return out.String() == "a\n" }) {
		t.Fatalf("a line not written before Close: %q", out.String())
	}
	fmt.Fprint(w, "b\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "c\n")
	if got := out.String(); got != "a\nb\nc\n" {
		t.Errorf("got %q", got)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	failing := New(errWriter{})
	fmt.Fprint(failing, "lost\n")
	if err := failing.Close(); !errors.Is(err, errBroken) {
		t.Errorf("Close: got %v, want %v", err, errBroken)
	}
}

var errBroken = errors.New("broken pipe")

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errBroken }
