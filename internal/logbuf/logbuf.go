// Package logbuf hands a process's log lines to a goroutine of its own,
// which writes them out: a line waits only for the write before it, and
// the lines given meanwhile go out together in the next write.
//
// A logger writes each line with one write under its lock, so that every
// goroutine logging waits for the system call of the one before it; at
// thousands of lines a second (a bridge applying commands) those calls
// were half of what logging cost. Through a Writer a line costs a copy,
// and the calls are as many as the writer goroutine can make, each taking
// all that has come since the last.
//
// What a Writer holds is written once the write before it ends, or at
// Close; a process that dies at once (a panic elsewhere, a kill) loses the
// lines of that moment still in memory. Writes wait, rather than grow
// what is held past MaxPending, while the output does not keep up.
package logbuf

import (
	"io"
	"sync"
)

// MaxPending is the most a Writer holds; Write waits while more is held.
const MaxPending = 256 << 10

// Writer is an io.Writer that writes to another from a goroutine of its
// own. Its methods may be called from any goroutine.
type Writer struct {
	out  io.Writer
	mu   sync.Mutex
	room sync.Cond // signalled when pending was taken, or at Close
	// pending is what was given and not yet taken by the goroutine.
	pending []byte
	closed  bool
	err     error // the first write error of out
	wake    chan struct{}
	done    chan struct{}
}

// New returns a Writer writing to out, and starts its goroutine; Close
// stops it.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.room.L = &w.mu
	go w.loop()
	return w
}

// Write copies p to be written, and returns len(p), nil; out's errors are
// Close's. After Close it writes p to out itself.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.pending) > 0 && len(w.pending)+len(p) > MaxPending {
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	w.pending = append(w.pending, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // woken already
	}
	return len(p), nil
}

// loop writes what is pending, as long as anything is, until Close.
func (w *Writer) loop() {
	defer close(w.done)
	var spare []byte
	for range w.wake {
		for {
			w.mu.Lock()
			out := w.pending
			w.pending = spare[:0]
			closed := w.closed
			w.room.Broadcast()
			w.mu.Unlock()
			if len(out) == 0 {
				spare = out
				if closed {
					return
				}
				break
			}
			if _, err := w.out.Write(out); err != nil {
				w.mu.Lock()
				if w.err == nil {
					w.err = err
				}
				w.mu.Unlock()
			}
			spare = out
		}
	}
}

// Close writes out what is held, stops the goroutine and returns out's
// first write error. Writes after Close go to out directly.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return w.err
	}
	w.closed = true
	w.room.Broadcast()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	return w.err
}
