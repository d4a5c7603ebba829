package poller

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// CRM is what the poller needs of the CRM; *crm.Client has it.
type CRM interface {
	Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error]
	Get(ctx context.Context, id string) (crm.Customer, error)
}

// Config configures a Poller. Prefix and OrgID are required.
type Config struct {
	// Prefix is the subject prefix (BRIDGE_SUBJECT_PREFIX).
	Prefix string
	// OrgID is the CRM organization, for ce-source (BRIDGE_CRM_ORG_ID).
	OrgID string
	// Interval is the time from one poll's start to the next's
	// (BRIDGE_POLL_INTERVAL). Default: 10s.
	Interval time.Duration
	// ReconcileInterval is how often a poll reads the complete export to
	// find deleted customers (BRIDGE_RECONCILE_INTERVAL). Default: 1h.
	ReconcileInterval time.Duration
	// InitialEvents makes a first start publish created for every
	// customer instead of recording them silently
	// (BRIDGE_POLLER_INITIAL_EVENTS).
	InitialEvents bool
	// Overlap is how far before the cursor each poll starts reading, for
	// changes that the CRM stamps late or with a clock that lags.
	// Default: 2m.
	Overlap time.Duration
	// LeaseTTL is how long the active poller's lease outlives its last
	// renewal. Default: half of max(2 × Interval, 10s), so that a standby
	// takes over within that.
	LeaseTTL time.Duration
	// Replicas of the state stream and of the lease and read model
	// buckets (BRIDGE_STREAM_REPLICAS).
	// Default: 1.
	Replicas int
	// Workers is how many customers' changes are published at once.
	// Default: 16.
	Workers int
	// Logger receives the poller's logs. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, gets the poller's metrics.
	Metrics prometheus.Registerer
	// Now is the clock for detectedAt and the schedule. Default: time.Now.
	Now func() time.Time
	// TracerProvider makes each poll's span, "poll", the root of a trace
	// of its own, whose context the poll's events carry as traceparent
	// (trace.go). Default: the no-op provider: no span, and events
	// without traceparent.
	TracerProvider trace.TracerProvider
	// Reads, when set, carries the batched reads of a poll's saved
	// records (a JetStream on a NATS connection of its own): the server
	// answers a connection's requests one after another with the
	// publishes it takes in, so on the connection of the poll's writes
	// they would wait behind them. Default: the JetStream of New.
	Reads jetstream.JetStream
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = 10 * time.Second
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = time.Hour
	}
	if c.Overlap == 0 {
		c.Overlap = 2 * time.Minute
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = max(2*c.Interval, 10*time.Second) / 2
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TracerProvider == nil {
		c.TracerProvider = noop.NewTracerProvider()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Prefix == "" {
		errs = append(errs, errors.New("poller: Prefix is required"))
	}
	if c.OrgID == "" {
		errs = append(errs, errors.New("poller: OrgID is required"))
	}
	if c.Interval < 0 || c.ReconcileInterval < 0 || c.Overlap < 0 || c.LeaseTTL < 0 || c.Workers < 0 || c.Replicas < 0 {
		errs = append(errs, errors.New("poller: durations and counts must not be negative"))
	}
	return errors.Join(errs...)
}

// Poller turns the CRM's export into change events. Among all the
// processes sharing a NATS deployment one Poller at a time is active, the
// one holding the lease; the others stand by.
type Poller struct {
	cfg      Config
	js       jetstream.JetStream
	crm      CRM
	subjects streams.Subjects
	log      *slog.Logger
	owner    string
	metrics  *metrics
	tracer   trace.Tracer

	store  *store
	events jetstream.Stream
	leases *lease.Leases
	// model is the read model, model.Bucket; modelStatus holds its
	// model.Status (readmodel.go).
	model       jetstream.KeyValue
	modelStatus jetstream.KeyValue
	// modelw orders the read model's writes (modelwrite.go).
	modelw modelWriter

	deletes *appliedDeletes // applieddeletes.go
	resyncs resyncs         // resync.go

	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	status Status

	// afterEvent, when set (tests), runs after each event is acknowledged
	// and before the state that records it is saved; an error aborts the
	// pass there, as a crash would.
	afterEvent func(Event) error
	// afterMigrated, when set (tests), runs after each entry the
	// migration of the former state copies (migrate.go); an error aborts
	// the migration there, as a crash would.
	afterMigrated func(n int) error

	// besideFrom is how many customers the state must hold for a
	// complete export to run beside the incremental polls (loop.go):
	// the constant besideFrom, lower in tests.
	besideFrom int
	// chunkFrom is how many records a round must save for them to go
	// into chunks (pipeline.go): the constant chunkFrom, lower in tests.
	chunkFrom int

	// badAt is what the passes warned about (updatedat.go).
	badAt badUpdatedAt
}

// Status is what the poller reports of itself.
type Status struct {
	// Active is true while this process is the one polling.
	Active bool
	// Started is false until Start succeeded.
	Started bool
	// LastComplete is when the last complete poll started: every change
	// the CRM made before then has been published.
	LastComplete time.Time
	// Polls counts the complete polls this process made.
	Polls uint64
	// ActiveSince is when this process last became the active poller.
	ActiveSince time.Time
	// Err is the last poll's error, nil once a poll succeeds again; or
	// the error that keeps a standby from reaching the lease.
	Err error
}

// Lag is how far behind the CRM the published events may be: the time
// since the last complete poll started (or since the poller became active,
// before its first), 0 when not active.
func (s Status) Lag(now time.Time) time.Duration {
	switch {
	case !s.Active:
		return 0
	case !s.LastComplete.IsZero():
		return now.Sub(s.LastComplete)
	}
	return now.Sub(s.ActiveSince)
}

// New returns a poller that publishes to the CRM_EVENTS stream (which must
// exist by Start), keeps its state in StateStream and writes the read model
// (model.Bucket).
func New(js jetstream.JetStream, client CRM, cfg Config) (*Poller, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Poller{
		badAt:      badUpdatedAt{},
		besideFrom: besideFrom,
		chunkFrom:  chunkFrom,
		cfg:        cfg,
		js:         js,
		crm:        client,
		subjects:   streams.Subjects{Prefix: cfg.Prefix},
		log:        cfg.Logger,
		owner:      nuid.Next(),
		tracer:     cfg.TracerProvider.Tracer(tracing.Name),
	}
	p.deletes = &appliedDeletes{js: js, ttl: deletesTTL(cfg.ReconcileInterval), replicas: cfg.Replicas}
	p.metrics = newMetrics(cfg.Metrics, p)
	return p, nil
}

// Start creates or updates the poller's stream (its state, StateStream)
// and buckets (its lease and the read model's) and starts it: it stands
// by, and polls whenever it holds the lease, until Stop. The first time a
// poller becomes active on a state kept by a former version, it migrates
// it (migrate.go).
func (p *Poller) Start(ctx context.Context) error {
	if p.done != nil {
		return errors.New("poller: already started")
	}
	events, err := p.js.Stream(ctx, streams.Events)
	if err != nil {
		return fmt.Errorf("poller: stream %s: %w", streams.Events, err)
	}
	st, err := ensureState(ctx, p.js, p.cfg.Prefix, p.cfg.Replicas)
	if err != nil {
		return err
	}
	customers, status, err := model.Ensure(ctx, p.js, p.cfg.Replicas)
	if err != nil {
		return fmt.Errorf("poller: %w", err)
	}
	kv, err := lease.Bucket(ctx, p.js, LeaseBucket, "crm-bridge: which process polls the CRM for changes", p.cfg.LeaseTTL, p.cfg.Replicas)
	if err != nil {
		return fmt.Errorf("poller: %w", err)
	}
	p.events = events
	p.model, p.modelStatus = customers, status
	p.store = newStore(p.js, st, p.cfg.Prefix, p.owner)
	if p.cfg.Reads != nil {
		p.store.reads = p.cfg.Reads
	}
	p.leases = &lease.Leases{KV: kv, Owner: p.owner, TTL: p.cfg.LeaseTTL}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.done = cancel, make(chan struct{})
	p.setStatus(func(s *Status) { s.Started = true })
	go func() {
		defer close(p.done)
		p.run(rctx)
	}()
	return nil
}

// Stop stops polling and gives up the lease, so that a standby takes over
// at once; a pass under way stops between two customers. It returns when
// the poller has stopped or ctx ends.
func (p *Poller) Stop(ctx context.Context) error {
	if p.done == nil {
		return nil
	}
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("poller: stop: %w", ctx.Err())
	}
}

// Status returns the poller's state.
func (p *Poller) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

func (p *Poller) setStatus(f func(*Status)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.status)
}

// Ready returns nil while the poller can do its work: standing by with the
// lease bucket in reach, or polling without errors, or with errors for
// less than three intervals (at least 30 s). Otherwise it says why, with
// the lag; at once when the CRM's URL does not reach its API (a 404
// without the CRM's error envelope), which waiting does not mend.
func (p *Poller) Ready() error {
	s := p.Status()
	switch {
	case !s.Started:
		return errors.New("not started")
	case s.Err == nil:
		return nil
	case !s.Active:
		return fmt.Errorf("standing by, cannot reach the lease: %w", s.Err)
	case crm.Classify(s.Err) == crm.Misrouted:
		return fmt.Errorf("CRM URL does not reach the CRM's API, HTTP 404 without its error envelope (check BRIDGE_CRM_URL): %w", s.Err)
	}
	lag := s.Lag(p.cfg.Now())
	if lag < max(3*p.cfg.Interval, 30*time.Second) {
		return nil
	}
	return fmt.Errorf("events %v behind the CRM: %w", lag.Round(time.Second), s.Err)
}

// run stands by and leads in turn until ctx ends.
func (p *Poller) run(ctx context.Context) {
	check := max(p.cfg.LeaseTTL/4, 50*time.Millisecond)
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, check+5*time.Second)
		ls, err := p.leases.Acquire(actx, "poller")
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			p.setStatus(func(s *Status) { s.Err = err })
			p.log.Warn("poller cannot reach its lease", "err", err)
		case ls != nil:
			p.lead(ctx, ls)
		default:
			p.setStatus(func(s *Status) { s.Err = nil })
		}
		select {
		case <-ctx.Done():
		case <-time.After(check):
		}
	}
}

// lead polls while ls is held and ctx lasts, then gives ls up.
func (p *Poller) lead(ctx context.Context, ls *lease.Lease) {
	now := p.cfg.Now()
	p.setStatus(func(s *Status) { s.Active, s.ActiveSince, s.LastComplete, s.Err = true, now, time.Time{}, nil })
	p.metrics.active.Set(1)
	p.log.Info("poller active", "owner", p.owner, "interval", p.cfg.Interval)
	lctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.keep(lctx, cancel, ls) })
	unserve, err := p.serveResync()
	if err == nil {
		if _, err = p.migrate(lctx, ls); err == nil {
			err = p.poll(lctx, ls)
		}
		unserve()
	}
	if cause := context.Cause(lctx); errors.Is(cause, lease.ErrLost) {
		err = cause
	}
	cancel(nil)
	wg.Wait()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	if rerr := p.leases.Release(rctx, ls); rerr != nil {
		p.log.Warn("poller: cannot release its lease", "err", rerr)
	}
	p.metrics.active.Set(0)
	p.setStatus(func(s *Status) { s.Active = false })
	switch {
	case ctx.Err() != nil:
		p.log.Info("poller stopped")
	case errors.Is(err, errFenced), errors.Is(err, lease.ErrLost):
		p.log.Warn("poller no longer active: another process took over", "err", err)
	default:
		p.log.Warn("poller stopped polling; trying again", "err", err)
		p.setStatus(func(s *Status) { s.Err = err })
	}
}

// keep renews ls every quarter TTL, and cancels the lead once it is lost.
func (p *Poller) keep(ctx context.Context, cancel context.CancelCauseFunc, ls *lease.Lease) {
	t := time.NewTicker(p.cfg.LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, rcancel := context.WithTimeout(ctx, p.cfg.LeaseTTL/4)
		err := p.leases.Renew(rctx, ls)
		rcancel()
		if errors.Is(err, lease.ErrLost) {
			cancel(err)
			return
		}
		if err != nil && ctx.Err() == nil {
			p.log.Warn("poller cannot renew its lease", "err", err)
		}
	}
}
