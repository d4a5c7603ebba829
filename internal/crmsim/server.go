package crmsim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrClosed is returned by Start and Recover after Close.
var ErrClosed = errors.New("crmsim: simulator closed")

// server is the simulator's own listener and HTTP server, replaced on each
// Recover.
type server struct {
	mu     sync.Mutex
	addr   string // host:port bound by Start, kept across outages
	hs     *http.Server
	done   chan struct{} // closed when hs.Serve returns
	closed bool
}

// Start listens on addr (":0" or "127.0.0.1:0" pick a free port) and
// serves the simulator there in the background. It returns an error when
// the address cannot be bound, when Start was already called, or after
// Close.
func (s *Simulator) Start(addr string) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	switch {
	case s.srv.closed:
		return ErrClosed
	case s.srv.addr != "":
		return fmt.Errorf("crmsim: already started on %s", s.srv.addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("crmsim: listen: %w", err)
	}
	s.srv.addr = ln.Addr().String()
	s.serveLocked(ln)
	return nil
}

func (s *Simulator) serveLocked(ln net.Listener) {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	s.srv.hs, s.srv.done = hs, done
}

// Addr returns the address Start bound, e.g. "127.0.0.1:41234", or "" before
// Start. It stays the same across Outage and Recover.
func (s *Simulator) Addr() string {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.srv.addr
}

// URL returns the simulator's base URL, e.g. "http://127.0.0.1:41234", or
// "" before Start; an unspecified host (":0") becomes 127.0.0.1.
func (s *Simulator) URL() string {
	addr := s.Addr()
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Outage stops serving: it closes the listener and every open connection,
// so clients get "connection refused" until Recover. Requests in progress
// see their context canceled. It does nothing when not serving.
func (s *Simulator) Outage() {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.stopLocked()
}

func (s *Simulator) stopLocked() {
	if s.srv.hs == nil {
		return
	}
	_ = s.srv.hs.Close() // only reports the listener's close error
	<-s.srv.done
	s.srv.hs, s.srv.done = nil, nil
}

// Recover listens again on the address Start bound, after an Outage. It
// does nothing when serving, and returns an error before Start, after
// Close, or when the address cannot be bound again.
func (s *Simulator) Recover() error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	switch {
	case s.srv.closed:
		return ErrClosed
	case s.srv.addr == "":
		return errors.New("crmsim: recover before start")
	case s.srv.hs != nil:
		return nil
	}
	ln, err := net.Listen("tcp", s.srv.addr)
	if err != nil {
		return fmt.Errorf("crmsim: listen again: %w", err)
	}
	s.serveLocked(ln)
	return nil
}

// Close stops serving for good, like Outage. The simulator's data and
// Handler remain usable. It always returns nil.
func (s *Simulator) Close() error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.closed = true
	s.stopLocked()
	return nil
}
