package commands

import (
	"sync"
	"sync/atomic"
	"time"
)

// pool runs functions on goroutines that it keeps, idle, for the next
// function. A command's goroutine grows its stack to what a command needs
// (the HTTP client, JSON, NATS) once and keeps it, instead of every
// command starting a goroutine and growing a new stack: at CRM latency 0
// that copying was about a tenth of the bridge's CPU. A goroutine idle for
// idleFor ends; close ends the others, once their functions return.
type pool struct {
	work    chan func() // unbuffered: a send succeeds only to an idle goroutine
	quit    chan struct{}
	idleFor time.Duration
	wg      sync.WaitGroup
	starts  atomic.Int64 // goroutines started
}

func newPool(idleFor time.Duration) *pool {
	return &pool{work: make(chan func()), quit: make(chan struct{}), idleFor: idleFor}
}

// Go runs f on an idle goroutine of the pool, or on a new one.
func (p *pool) Go(f func()) {
	if !p.tryIdle(f) {
		p.starts.Add(1)
		p.wg.Add(1)
		go p.loop(f)
	}
}

// tryIdle runs f on an idle goroutine, if one is waiting.
func (p *pool) tryIdle(f func()) bool {
	select {
	case p.work <- f:
		return true
	default:
		return false
	}
}

func (p *pool) loop(f func()) {
	defer p.wg.Done()
	idle := time.NewTimer(p.idleFor)
	defer idle.Stop()
	for {
		f()
		idle.Reset(p.idleFor)
		select {
		case f = <-p.work:
		case <-idle.C:
			return
		case <-p.quit:
			return
		}
	}
}

// close ends the pool's goroutines once their functions have returned; a
// function given to Go after close still runs, on a goroutine that ends
// after it.
func (p *pool) close() {
	close(p.quit)
	p.wg.Wait()
}
