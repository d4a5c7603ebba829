package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/natsconn"
	"github.com/gormic/crm-bridge/internal/streams"
)

// Config says where NATS is, how to log in, and the bridge's subject
// prefix. URL and Prefix are required; the zero Timeout waits for nothing.
type Config struct {
	URL                    string // NATS server URL(s), comma separated (spaces are ignored)
	Creds, User, Password  string
	TLSCA, TLSCert, TLSKey string // PEM files; see natsconn.Auth
	Prefix                 string // the first subject token, as the bridge's BRIDGE_SUBJECT_PREFIX
	// Timeout bounds the wait for NATS and for each answer.
	Timeout time.Duration
}

// Subjects returns the subjects under c.Prefix.
func (c Config) Subjects() streams.Subjects { return streams.Subjects{Prefix: c.Prefix} }

// Connect dials NATS once as name (the connection's name, shown by the
// server), failing at once with an error that says where it looked, or
// what a refused TLS handshake means.
func (c Config) Connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(min(c.Timeout, 10*time.Second))}
	auth := natsconn.Auth{Creds: c.Creds, User: c.User, Password: c.Password, CA: c.TLSCA, Cert: c.TLSCert, Key: c.TLSKey}
	if err := auth.Check(); err != nil {
		return nil, nil, err
	}
	opts = append(opts, auth.Options()...)
	nc, err := nats.Connect(strings.ReplaceAll(c.URL, " ", ""), opts...)
	if err != nil {
		if natsconn.TLSRefused(err) {
			return nil, nil, natsconn.Explain(err, config.RedactURL(c.URL))
		}
		return nil, nil, fmt.Errorf("cannot reach NATS at %s: %w (is the bridge or its NATS running? set BRIDGE_NATS_URL or --nats-url)", config.RedactURL(c.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}
