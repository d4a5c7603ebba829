// Package config holds the bridge's settings: their names, defaults and
// validation. Every setting is an environment variable (BRIDGE_...) and a
// flag of the same name in kebab case (--crm-url); a flag wins over the
// environment, and both win over the default. See docs/contract.md.
package config

import (
	"log/slog"
	"time"
)

// Config is the whole configuration of a bridge process. Load fills it from
// flags and environment; the zero value is not useful, Default is.
type Config struct {
	// NATSURL lists NATS server URLs, comma separated. Empty: start an
	// embedded JetStream server on EmbeddedAddr storing under DataDir.
	NATSURL string
	// NATSCreds is a NATS credentials file. Default: none.
	NATSCreds string
	// NATSUser and NATSPassword authenticate with a user and password.
	NATSUser     string
	NATSPassword Secret
	// NATSTLSCA is a PEM file of CAs that NATS servers' certificates must
	// chain to. Default: the system's roots.
	NATSTLSCA string
	// NATSTLSCert and NATSTLSKey are PEM files of the client certificate
	// and its key, for NATS servers that verify their clients (mutual
	// TLS). Both or neither. Default: none.
	NATSTLSCert, NATSTLSKey string
	// DataDir is the embedded server's store, and in dev mode the
	// simulator's too. Default: ./data.
	DataDir string
	// NATSSync is the embedded server's fsync policy. Default: always.
	NATSSync SyncPolicy
	// StreamReplicas is the replica count of the streams and buckets the
	// bridge creates. Default: 1.
	StreamReplicas int

	// CRMURL is the CRM's base URL; /v1/crm/customers... is appended.
	CRMURL string
	// CRMAPIKey is sent as the api-key header. It may come from
	// BRIDGE_CRM_API_KEY_FILE instead (the file's content, trimmed).
	CRMAPIKey Secret
	// CRMAPIKeyFile is where CRMAPIKey was read from, if anywhere.
	CRMAPIKeyFile string
	// CRMOrgID is sent as the organization-id header.
	CRMOrgID string
	// CRMRate is the most CRM requests per second of the whole deployment
	// (every bridge process on one NATS), each live process taking its
	// share; 0 means no limit. Default: 50.
	CRMRate float64
	// CRMTimeout bounds one CRM request. Default: 10s.
	CRMTimeout time.Duration

	// SubjectPrefix is the first token of every subject. Default: crm.
	SubjectPrefix string
	// Concurrency is the number of commands in flight at once, never two
	// for one customer. Default: 16.
	Concurrency int
	// RetryMaxElapsed is how long one command is retried before it fails.
	// Default: 15m.
	RetryMaxElapsed time.Duration
	// PollInterval is the change poller's period. Default: 10s.
	PollInterval time.Duration
	// ReconcileInterval is the period of the complete export that finds
	// deleted customers. Default: 1h.
	ReconcileInterval time.Duration
	// PollerInitialEvents makes a first start emit created events for every
	// existing customer instead of recording them silently. Default: false.
	PollerInitialEvents bool

	// HTTPAddr serves /healthz, /readyz and /metrics. Default:
	// 127.0.0.1:8080. Empty: no HTTP server.
	HTTPAddr string
	// PProf serves Go's profiles (net/http/pprof) under /debug/pprof/ on
	// HTTPAddr. Default: false.
	PProf bool
	// LogFormat is auto, text or json. Default: auto (text on a terminal).
	LogFormat string
	// LogLevel is the lowest level logged. Default: info.
	LogLevel slog.Level
}

// SyncPolicy is the embedded server's fsync policy: every write (Always),
// or every Interval. The zero value is Always.
type SyncPolicy struct {
	Interval time.Duration
}

// Always reports whether every write is synced before it is acknowledged.
func (p SyncPolicy) Always() bool { return p.Interval == 0 }

// String returns "always" or the interval, as the setting is written.
func (p SyncPolicy) String() string {
	if p.Always() {
		return "always"
	}
	return p.Interval.String()
}

// Secret is a string that is never printed: String, LogValue and
// MarshalText all return "[redacted]" (or "" when it is empty). Use Reveal
// to get the value.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue keeps the secret out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps the secret out of JSON and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Default returns the configuration with every default of docs/contract.md.
func Default() Config {
	return Config{
		DataDir:           "./data",
		StreamReplicas:    1,
		CRMRate:           50,
		CRMTimeout:        10 * time.Second,
		SubjectPrefix:     "crm",
		Concurrency:       16,
		RetryMaxElapsed:   15 * time.Minute,
		PollInterval:      10 * time.Second,
		ReconcileInterval: time.Hour,
		HTTPAddr:          "127.0.0.1:8080",
		LogFormat:         "auto",
		LogLevel:          slog.LevelInfo,
	}
}
