package queries

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormic/crm-bridge/internal/crm"
)

// CRM is what a fresh get needs of the CRM client: the process's own
// client, so that it shares the CRM's rate limit.
type CRM interface {
	Get(ctx context.Context, id string) (crm.Customer, error)
}

var _ CRM = (*crm.Client)(nil)

// ServiceName is the name of the NATS service, as the contract says.
const ServiceName = "crm-bridge"

// QueueGroup is the queue group of every endpoint in every process.
const QueueGroup = "crm-bridge"

// Config configures a Service. Prefix is required; every other zero value
// means its default.
type Config struct {
	// Prefix is the first subject token (BRIDGE_SUBJECT_PREFIX).
	Prefix string
	// Version is the service's version in the service protocol (semver).
	// Default: 0.0.0-dev.
	Version string
	// Replicas of the model's buckets, created when missing
	// (BRIDGE_STREAM_REPLICAS). Default: 1.
	Replicas int
	// CRM answers fresh gets; nil: a fresh get answers 503
	// CRM_UNAVAILABLE.
	CRM CRM
	// Resync starts a complete export on the active poller and returns
	// when it started; nil, or an error, answers crm.bridge.resync with
	// 503 NOT_READY and the error's text.
	Resync func(ctx context.Context) (started time.Time, err error)
	// Workers is how many requests this process answers at once; more
	// wait in NATS's pending buffer. Default: 64.
	Workers int
	// Timeout bounds the answer to one request (model reads, the CRM's get
	// of a fresh get, a resync's start). Default: 30s.
	Timeout time.Duration
	// Logger receives the service's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, gets the query metrics.
	Metrics prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = "0.0.0-dev"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Workers == 0 {
		c.Workers = 64
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Prefix == "" {
		errs = append(errs, errors.New("queries: Prefix is required"))
	}
	if c.Replicas < 0 || c.Workers < 0 || c.Timeout < 0 {
		errs = append(errs, errors.New("queries: Replicas, Workers and Timeout must not be negative"))
	}
	return errors.Join(errs...)
}
