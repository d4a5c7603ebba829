package client

import (
	"flag"
	"time"
)

// DefaultURL is where the client subcommands look for NATS when
// BRIDGE_NATS_URL is not set: the embedded server of `bridge dev` and of a
// bridge run without BRIDGE_NATS_URL.
const DefaultURL = "nats://127.0.0.1:4222"

// RegisterFlags registers c's settings on fs: where NATS is, how to log
// in, the subject prefix and the timeout (default 30s). Each flag's
// default is the bridge's environment variable of the same name, read
// through getenv (so the same environment serves the bridge and its
// tools); the password's is set in c and not shown in the usage.
func (c *Config) RegisterFlags(fs *flag.FlagSet, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.URL, "nats-url", env("BRIDGE_NATS_URL", DefaultURL), "NATS server URL(s), comma separated (BRIDGE_NATS_URL)")
	fs.StringVar(&c.Creds, "nats-creds", env("BRIDGE_NATS_CREDS", ""), "NATS credentials file (BRIDGE_NATS_CREDS)")
	fs.StringVar(&c.User, "nats-user", env("BRIDGE_NATS_USER", ""), "NATS user (BRIDGE_NATS_USER)")
	fs.StringVar(&c.Password, "nats-password", "", "NATS password (default: BRIDGE_NATS_PASSWORD)")
	c.Password = getenv("BRIDGE_NATS_PASSWORD")
	fs.StringVar(&c.TLSCA, "nats-tls-ca", env("BRIDGE_NATS_TLS_CA", ""), "PEM file of CAs for the NATS servers' certificates (BRIDGE_NATS_TLS_CA)")
	fs.StringVar(&c.TLSCert, "nats-tls-cert", env("BRIDGE_NATS_TLS_CERT", ""), "PEM file of the client certificate, for NATS servers that verify their clients (BRIDGE_NATS_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "nats-tls-key", env("BRIDGE_NATS_TLS_KEY", ""), "PEM file of the client certificate's private key (BRIDGE_NATS_TLS_KEY)")
	fs.StringVar(&c.Prefix, "subject-prefix", env("BRIDGE_SUBJECT_PREFIX", "crm"), "first subject token (BRIDGE_SUBJECT_PREFIX)")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "how long to wait for NATS and for answers")
}
