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
type holder struct {
	mu   sync.Mutex
	held map[jetstream.Msg]struct{}
}

func newHolder() *holder { return &holder{held: map[jetstream.Msg]struct{}{}} }

// hold adds msg to the held commands; release removes it.
func (h *holder) hold(msg jetstream.Msg) {
	h.mu.Lock()
	h.held[msg] = struct{}{}
	h.mu.Unlock()
}

func (h *holder) release(msg jetstream.Msg) {
	h.mu.Lock()
	delete(h.held, msg)
	h.mu.Unlock()
}

// run marks every held command in progress each interval until done is
// closed. A command held for less than an interval may be marked once; that
// costs a message, not correctness.
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
		for m := range h.held {
			msgs = append(msgs, m)
		}
		h.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress() // a lost one is made up for by the next
		}
	}
}
