package commands

import "sync/atomic"

// pool runs functions on goroutines that it keeps for the next ones: a
// partition runs each customer's commands on a goroutine of their own,
// and a new goroutine for each would cost its start and the growth of its
// stack (an HTTP call and JSON deep) every time. A function given while no
// goroutine is idle gets a new one, so that none waits for another (they
// wait for slots, the CRM and acks); at most maxIdle wait idle, the
// others end. Close ends the idle ones; functions still running finish.
type pool struct {
	tasks   chan func()
	quit    chan struct{}
	idle    atomic.Int32
	maxIdle int32
}

func newPool(maxIdle int) *pool {
	return &pool{tasks: make(chan func()), quit: make(chan struct{}), maxIdle: int32(maxIdle)}
}

// Go runs f on an idle goroutine of the pool, or on a new one.
func (p *pool) Go(f func()) {
	select {
	case p.tasks <- f:
	default:
		go p.work(f)
	}
}

func (p *pool) work(f func()) {
	for {
		f()
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		select {
		case f = <-p.tasks:
			p.idle.Add(-1)
		case <-p.quit:
			p.idle.Add(-1)
			return
		}
	}
}

// Close ends the idle goroutines, and each busy one when its function
// returns. Go must not be called after Close.
func (p *pool) Close() { close(p.quit) }
