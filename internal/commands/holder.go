package commands

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// holder keeps the commands a processor holds alive: every interval it
// tells JetStream that each of them is still being worked on, so none is
// delivered again while the processor waits for the gate, a slot or a
// retry. One goroutine serves every held command.
//
// A command is marked from the second tick it is held at on: one held at
// a tick was delivered at most an interval before it, so it is marked by
// two intervals after its delivery, within the ack wait of three (see
// run), and the commands finished within an interval, most of them, cost
// no message.
type holder struct {
	mu   sync.Mutex
	held map[jetstream.Msg]bool // true once held at a tick
}

func newHolder() *holder { return &holder{held: map[jetstream.Msg]bool{}} }

// hold adds msg to the held commands; release removes it.
func (h *holder) hold(msg jetstream.Msg) {
	h.mu.Lock()
	h.held[msg] = false
	h.mu.Unlock()
}

func (h *holder) release(msg jetstream.Msg) {
	h.mu.Lock()
	delete(h.held, msg)
	h.mu.Unlock()
}

// run marks in progress, each interval until done is closed, every
// command that was already held at the interval's start. every must be at
// most a third of the ack wait.
func (h *holder) run(every time.Duration, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var msgs []jetstream.Msg
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		h.mu.Lock()
		msgs = msgs[:0]
		for m, seen := range h.held {
			if seen {
				msgs = append(msgs, m)
			} else {
				h.held[m] = true
			}
		}
		h.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress() // a lost one is made up for by the next
		}
	}
}
