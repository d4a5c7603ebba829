// Package embedded runs a NATS server with JetStream inside the bridge's
// process: the default when no BRIDGE_NATS_URL is set, dev mode, and every
// test. It is the real nats-server, not a stand-in.
package embedded

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures an embedded server. StoreDir is required; the other
// zero values mean the defaults.
type Options struct {
	// Host to listen on. Default: 127.0.0.1.
	Host string
	// Port to listen on; -1 picks a free one. Default (0): 4222.
	Port int
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// SyncInterval is how often JetStream fsyncs its files. Zero, the
	// default, syncs every write before it is acknowledged: the lazy
	// default of nats-server (2 minutes) can lose acknowledged writes when
	// the machine, not just the process, fails.
	SyncInterval time.Duration
	// ServerName names the server. Default: crm-bridge.
	ServerName string
	// Logger receives the server's own log lines. Default: discard.
	Logger *slog.Logger
	// User and Password, when set, are the only credentials the server
	// accepts. Default: none needed.
	User, Password string
	// StartTimeout bounds the wait for the server to accept clients.
	// Default: 10s.
	StartTimeout time.Duration
	// TLSConfig, when set, makes the server require TLS of its clients,
	// with this configuration (its Certificates are the server's); its
	// ClientURL then starts with tls://. Default: plain TCP.
	TLSConfig *tls.Config
	// MaxPayload is the largest message the server accepts, in bytes.
	// Default: 16 MiB (see Start).
	MaxPayload int32
	// ConfigFile, when set, is a nats-server configuration file read
	// first (authorization, tls, ...); the options above then override
	// what they name: host, port, store, sync, server name, max payload,
	// and user, password and TLS when they are set. Default: none.
	ConfigFile string
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// Start starts a server and waits until it accepts clients. It returns an
// error when the options are invalid, the port is taken, or the store
// cannot be opened.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("embedded: StoreDir is required")
	}
	opts = opts.withDefaults()
	so, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(logger{opts.Logger}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(opts.StartTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded: server on %s:%d not ready after %v (port taken?)", opts.Host, opts.Port, opts.StartTimeout)
	}
	return &Server{ns: ns}, nil
}

// withDefaults returns opts with the defaults in place of zero values.
func (opts Options) withDefaults() Options {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Port == 0 {
		opts.Port = 4222
	}
	if opts.ServerName == "" {
		opts.ServerName = "crm-bridge"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	return opts
}

// serverOptions reads opts.ConfigFile, when there is one, and sets over it
// what opts name. It returns an error when the file cannot be read or
// parsed.
func serverOptions(opts Options) (*server.Options, error) {
	so := &server.Options{}
	if opts.ConfigFile != "" {
		var err error
		if so, err = server.ProcessConfigFile(opts.ConfigFile); err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
	}
	so.ServerName = opts.ServerName
	so.Host = opts.Host
	so.Port = opts.Port
	so.JetStream = true
	so.StoreDir = opts.StoreDir
	so.NoSigs = true
	// Commands over 64 KiB are rejected by the bridge, not by the
	// server: a publisher then gets a result and a dead letter instead
	// of a bare "maximum payload exceeded".
	so.MaxPayload = cmp.Or(opts.MaxPayload, 16<<20)
	if opts.User != "" || opts.Password != "" {
		so.Username, so.Password = opts.User, opts.Password
	}
	if opts.TLSConfig != nil {
		so.TLSConfig = opts.TLSConfig
	}
	if opts.SyncInterval == 0 {
		so.SyncAlways = true
	} else {
		so.SyncInterval = opts.SyncInterval
	}
	return so, nil
}

// ClientURL returns the URL clients connect to, e.g. nats://127.0.0.1:4222.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// NATS returns the underlying server, for tests that need to restart or
// inspect it.
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server and waits until it has stopped. It is safe to
// call more than once.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// logger adapts slog to the server's Logger interface. The server's
// notices (its start-up banner among them) are debug lines for the bridge;
// its warnings and errors stay what they are.
type logger struct{ l *slog.Logger }

func (l logger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Maximum payloads over") {
		// The bridge sets a large max_payload on purpose (see Start).
		l.l.Debug(msg)
		return
	}
	l.l.Warn(msg)
}
func (l logger) Fatalf(format string, v ...any) { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) Errorf(format string, v ...any) { l.l.Error(fmt.Sprintf(format, v...)) }
func (l logger) Debugf(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Tracef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
