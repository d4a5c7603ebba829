package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/natsconn"
	"github.com/gormic/crm-bridge/internal/streams"
)

// defaultClientNATS is where the client subcommands look for NATS when
// BRIDGE_NATS_URL is not set: the embedded server of `bridge dev` and of a
// bridge run without BRIDGE_NATS_URL.
const defaultClientNATS = "nats://127.0.0.1:4222"

// clientFlags are the settings of the subcommands that work through NATS
// beside a running bridge (publish, watch, dlq): where NATS is, how to log
// in, and the subject prefix. Each flag's default comes from the bridge's
// environment variable of the same name, so the same environment serves
// the bridge and its tools.
type clientFlags struct {
	url, creds, user, password, prefix string
	tlsCA, tlsCert, tlsKey             string
	timeout                            time.Duration
}

func (c *clientFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.url, "nats-url", env("BRIDGE_NATS_URL", defaultClientNATS), "NATS server URL(s), comma separated (BRIDGE_NATS_URL)")
	fs.StringVar(&c.creds, "nats-creds", env("BRIDGE_NATS_CREDS", ""), "NATS credentials file (BRIDGE_NATS_CREDS)")
	fs.StringVar(&c.user, "nats-user", env("BRIDGE_NATS_USER", ""), "NATS user (BRIDGE_NATS_USER)")
	fs.StringVar(&c.password, "nats-password", "", "NATS password (default: BRIDGE_NATS_PASSWORD)")
	c.password = getenv("BRIDGE_NATS_PASSWORD")
	fs.StringVar(&c.tlsCA, "nats-tls-ca", env("BRIDGE_NATS_TLS_CA", ""), "PEM file of CAs for the NATS servers' certificates (BRIDGE_NATS_TLS_CA)")
	fs.StringVar(&c.tlsCert, "nats-tls-cert", env("BRIDGE_NATS_TLS_CERT", ""), "PEM file of the client certificate, for NATS servers that verify their clients (BRIDGE_NATS_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "nats-tls-key", env("BRIDGE_NATS_TLS_KEY", ""), "PEM file of the client certificate's private key (BRIDGE_NATS_TLS_KEY)")
	fs.StringVar(&c.prefix, "subject-prefix", env("BRIDGE_SUBJECT_PREFIX", "crm"), "first subject token (BRIDGE_SUBJECT_PREFIX)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for NATS and for answers")
}

// subjects returns the subjects under the configured prefix.
func (c clientFlags) subjects() streams.Subjects { return streams.Subjects{Prefix: c.prefix} }

// connect dials NATS once, failing at once with an error that says where
// it looked; name is the connection's name, shown by the server.
func (c clientFlags) connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name("crm-bridge " + name + " " + version),
		nats.Timeout(min(c.timeout, 10*time.Second)),
	}
	auth := natsconn.Auth{Creds: c.creds, User: c.user, Password: c.password, CA: c.tlsCA, Cert: c.tlsCert, Key: c.tlsKey}
	if err := auth.Check(); err != nil {
		return nil, nil, err
	}
	opts = append(opts, auth.Options()...)
	nc, err := nats.Connect(strings.ReplaceAll(c.url, " ", ""), opts...)
	if err != nil {
		if natsconn.TLSRefused(err) {
			return nil, nil, natsconn.Explain(err, config.RedactURL(c.url))
		}
		return nil, nil, fmt.Errorf("cannot reach NATS at %s: %w (is the bridge or its NATS running? set BRIDGE_NATS_URL or --nats-url)", config.RedactURL(c.url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}
