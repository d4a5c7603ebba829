package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures a Processor. Prefix and Concurrency are required; every
// other zero value means its default.
type Config struct {
	// Prefix is the first subject token (BRIDGE_SUBJECT_PREFIX).
	Prefix string
	// Concurrency is the number of commands in flight at once in this
	// process, never two for one customer (BRIDGE_CONCURRENCY); also how
	// many commands of each partition it holds ahead.
	Concurrency int
	// Replicas of the lease bucket (BRIDGE_STREAM_REPLICAS). Default: 1.
	Replicas int
	// RetryMaxElapsed is how long one command is retried on transient
	// failures before it is failed (BRIDGE_RETRY_MAX_ELAPSED).
	// Default: 15m.
	RetryMaxElapsed time.Duration
	// InitialBackoff and MaxBackoff bound the waits between retries, which
	// grow exponentially with jitter. Defaults: 250ms and 30s.
	InitialBackoff, MaxBackoff time.Duration
	// AckWait is how long JetStream waits for a delivered command to be
	// acknowledged before it delivers it again; the processor marks every
	// command it holds as in progress at a third of it, and a command
	// held by a process that died is delivered again after it.
	// Default: 10s.
	AckWait time.Duration
	// CallTimeout bounds one CRM call (BRIDGE_CRM_TIMEOUT): a partition's
	// command is sent to the CRM only while this process's lease on the
	// partition holds for that long. Default: 10s.
	CallTimeout time.Duration
	// LeaseTTL is how long a process's claim on a partition outlives its
	// last renewal; a partition whose process died is taken over after it.
	// Default: the longer of AckWait and CallTimeout, plus 10s.
	LeaseTTL time.Duration
	// StopTimeout is how long Stop lets commands in flight finish before
	// it hands them back to JetStream. Default: 10s.
	StopTimeout time.Duration
	// OutageAfter is the number of consecutive failed CRM calls (no answer,
	// 5xx, timeouts) after which the processor stops taking new commands
	// until a call succeeds again. Default: 3.
	OutageAfter int
	// ProbeInterval is how often a CRM that is down or refuses the
	// bridge's credentials is asked again. Default: 5s.
	ProbeInterval time.Duration
	// LookupWindow is how far before a create was published the processor
	// searches the CRM's export for the customer that a lost attempt may
	// have made; it also covers a CRM clock that is behind. Default: 10m.
	LookupWindow time.Duration
	// Model, when set, is the read model's phone index, where a create
	// retried after a lost answer looks for its customer before it looks
	// in the CRM's export since LookupWindow before the create. Default:
	// none, the export alone.
	Model Model
	// OnProcesses, when set, is called with the number of live processes
	// (this one included) each time the processor counts them: once in
	// Start, then every lease renewal period. The CRM client divides its
	// rate among them (crm.Client.SetProcesses).
	OnProcesses func(n int)
	// Deleted, when set, is called with the customer's id once a delete
	// is applied (the CRM deleted the customer, or it was gone already),
	// before the command's result is stored. It must be idempotent: a
	// command handed back is applied and reported again. It is retried
	// until it succeeds; while it fails the command is not finished, and
	// is handed back when the processor stops. The bridge sets it to
	// poller.(*Poller).NoteDeleted, so that the poller publishes the
	// deleted event within one poll interval.
	Deleted func(ctx context.Context, customerID string) error
	// Logger receives the processor's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, gets the processor's metrics.
	Metrics prometheus.Registerer
	// TracerProvider makes the span of each command (see trace.go).
	// Default: the no-op provider, under which a command's traceparent
	// still reaches its CRM request, result and dead letter.
	TracerProvider trace.TracerProvider
}

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.RetryMaxElapsed == 0 {
		c.RetryMaxElapsed = 15 * time.Minute
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.AckWait == 0 {
		c.AckWait = 10 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = max(c.AckWait, c.CallTimeout) + 10*time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.OutageAfter == 0 {
		c.OutageAfter = 3
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.LookupWindow == 0 {
		c.LookupWindow = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Prefix == "" {
		errs = append(errs, errors.New("commands: Prefix is required"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("commands: Concurrency must be at least 1"))
	}
	if c.LeaseTTL != 0 && c.LeaseTTL <= max(c.AckWait, c.CallTimeout)+time.Second {
		errs = append(errs, errors.New("commands: LeaseTTL must exceed AckWait and CallTimeout by more than a second"))
	}
	if c.RetryMaxElapsed < 0 || c.InitialBackoff < 0 || c.MaxBackoff < 0 || c.AckWait < 0 || c.StopTimeout < 0 || c.ProbeInterval < 0 || c.LookupWindow < 0 {
		errs = append(errs, errors.New("commands: durations must not be negative"))
	}
	return errors.Join(errs...)
}
