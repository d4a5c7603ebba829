package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/health"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/queries"
	"github.com/gormic/crm-bridge/internal/streams"
)

// Options are what a bridge needs besides its Config.
type Options struct {
	// Logger receives the bridge's logs. Default: discard.
	Logger *slog.Logger
	// Version is reported in the NATS connection name and the CRM
	// User-Agent. Default: dev.
	Version string
	// EmbeddedPort is the embedded server's port, when no NATS URL is
	// configured; -1 picks a free one. Default (0): 4222.
	EmbeddedPort int
	// TracerProvider makes the spans of commands, CRM requests and polls
	// (tracing.Setup builds it from OTEL_*); the caller shuts it down
	// after Stop. Default: the no-op provider, under which trace context
	// still propagates.
	TracerProvider trace.TracerProvider
}

// Bridge is one bridge process. Its methods are not safe for concurrent use
// with each other: Start once, then Stop once.
type Bridge struct {
	cfg     config.Config
	log     *slog.Logger
	version string

	health  health.Health
	metrics *registry

	srv          *embedded.Server
	crm          *crm.Client
	commands     *commands.Processor
	poller       *poller.Poller
	queries      *queries.Service
	nc           *nats.Conn
	js           jetstream.JetStream
	readsNC      *nats.Conn // the poller's batched reads (poller.Config.Reads)
	reads        jetstream.JetStream
	httpLn       net.Listener
	httpSrv      *http.Server
	cancel       context.CancelFunc
	workers      sync.WaitGroup
	natsURL      string
	stopOnce     sync.Once
	queriesUp    atomic.Bool
	embeddedPort int
	tracer       trace.TracerProvider
}

// New returns a bridge for cfg, which should have passed cfg.Validate.
func New(cfg config.Config, opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	b := &Bridge{cfg: cfg, log: opts.Logger, version: opts.Version, metrics: newRegistry(), embeddedPort: opts.EmbeddedPort,
		tracer: opts.TracerProvider}
	b.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		readyCollector{&b.health})
	return b
}

// Start brings the bridge up: the embedded server when no NATS URL is
// configured, the NATS connection, the HTTP endpoints, and, in the
// background, the streams and the workers. It returns an error, having
// undone what it started, when a listener cannot be opened or the embedded
// server cannot start; an unreachable NATS server is not an error, the
// bridge keeps trying and /readyz says why it is not ready.
func (b *Bridge) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			b.shutdown(context.Background())
		}
	}()
	b.health.Set("streams", errors.New("not created yet"))
	b.health.Set("commands", errors.New("waiting for the streams"))
	b.health.Set("poller", errors.New("waiting for the streams"))
	b.health.Set("queries", errors.New("waiting for the streams"))
	if err = b.startNATS(); err != nil {
		return err
	}
	if err = b.newParts(); err != nil {
		return err
	}
	if err = b.listenHTTP(); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel = cancel
	b.workers.Go(func() { b.setUp(wctx) })
	return nil
}

// startNATS starts the embedded server when no NATS URL is configured,
// then connects to NATS and JetStream.
func (b *Bridge) startNATS() (err error) {
	b.natsURL = b.cfg.NATSURL
	if b.natsURL == "" {
		b.srv, err = embedded.Start(embedded.Options{
			Port:         b.embeddedPort,
			StoreDir:     b.cfg.DataDir,
			SyncInterval: b.cfg.NATSSync.Interval,
			Logger:       b.log.With("component", "nats-server"),
		})
		if err != nil {
			return err
		}
		b.natsURL = b.srv.ClientURL()
		b.log.Info("embedded NATS JetStream started", "url", b.natsURL, "store", b.cfg.DataDir, "sync", b.cfg.NATSSync.String())
	}
	if b.nc, err = connect(b.cfg, b.natsURL, b.version, b.log); err != nil {
		return err
	}
	b.health.Check("nats", natsHealth(b.nc))
	if b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(publishAsyncTimeout)); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// The poller's batched reads go over a second connection, the same
	// options and user but its name: the server takes in a connection's
	// messages one after another, so the reads of one page's saved
	// records would wait behind the writes of the pages before.
	opts := b.nc.Opts
	opts.Name += " (poller reads)"
	opts.RetryOnFailedConnect = true // as the first, once it is connected
	opts.SubChanLen = readsQueueLen
	if b.readsNC, err = opts.Connect(); err != nil {
		return fmt.Errorf("nats: connect the poller's reads: %w", err)
	}
	if b.reads, err = jetstream.New(b.readsNC); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// readsQueueLen is how many messages a subscription of the poller's
// reads connection holds before it is a slow consumer. Each batched read
// subscribes for its answer (orbit.go's requestMany), at most 513
// messages here (512 subjects, then the end of the batch), and a
// subscription's channel is made that long at once: at nats.go's default
// of 65,536, 512 KiB for each read, 6 % of the bytes the bridge allocated
// over a bulk change.
const readsQueueLen = 4096

// publishAsyncTimeout bounds the wait for an asynchronous publish's
// acknowledgement (the poller's events, read model entries and state):
// one whose acknowledgement is lost (a stream leader killed between
// storing and answering) fails after it, and the poll is retried from the
// same cursor, its writes conditional, instead of waiting forever.
const publishAsyncTimeout = 30 * time.Second

// listenHTTP opens the HTTP endpoints' listener, when an address is
// configured, and serves them in the background.
func (b *Bridge) listenHTTP() (err error) {
	if b.cfg.HTTPAddr == "" {
		return nil
	}
	if b.httpLn, err = net.Listen("tcp", b.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("BRIDGE_HTTP_ADDR: %w", err)
	}
	b.httpSrv = &http.Server{Handler: b.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := b.httpSrv.Serve(b.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("http server stopped", "err", err)
		}
	}()
	b.log.Info("http listening", "addr", b.httpLn.Addr().String())
	return nil
}

// setUp creates the streams, then starts the queries service, the command
// processor and the poller, in that order, each retried with backoff until
// it succeeds or the bridge stops.
func (b *Bridge) setUp(ctx context.Context) {
	cfg := streams.Config{Prefix: b.cfg.SubjectPrefix, Replicas: b.cfg.StreamReplicas, Partitions: streams.CommandPartitions}
	ensure := func(ctx context.Context) error { return streams.Ensure(ctx, b.js, cfg) }
	if b.retry(ctx, "streams", "streams not ready", ensure) != nil {
		return // stopped
	}
	b.health.Set("streams", nil)
	b.log.Info("streams ready", "commands", streams.Commands, "events", streams.Events, "dlq", streams.DLQ, "replicas", cfg.Replicas)
	if b.retry(ctx, "queries", "cannot serve queries", b.queries.Start) != nil {
		return
	}
	b.health.Set("queries", nil)
	b.queriesUp.Store(true)
	if b.retry(ctx, "commands", "cannot start taking commands", b.commands.Start) != nil {
		return
	}
	b.health.Check("commands", b.commands.Ready)
	if b.retry(ctx, "poller", "cannot start the change poller", b.poller.Start) != nil {
		return
	}
	b.health.Check("poller", b.poller.Ready)
}

// retry calls start, each attempt within 10 seconds, with an exponential
// backoff of up to 30 seconds between attempts, until it succeeds or ctx
// ends (then it returns an error). Each failure becomes part's state in
// /readyz and a warning that begins with failing.
func (b *Bridge) retry(ctx context.Context, part, failing string, start func(context.Context) error) error {
	bo := backoff.NewExponentialBackOff(backoff.WithMaxInterval(30*time.Second), backoff.WithMaxElapsedTime(0))
	return backoff.RetryNotify(func() error {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return start(actx)
	}, backoff.WithContext(bo, ctx), func(err error, next time.Duration) {
		b.health.Set(part, err)
		b.log.Warn(failing+", retrying", "err", err, "retry_in", next.Round(time.Millisecond))
	})
}

func (b *Bridge) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", health.Live)
	mux.Handle("GET /readyz", &b.health)
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics.Registry, promhttp.HandlerOpts{Registry: b.metrics.Registry}))
	if b.cfg.PProf {
		handlePProf(mux)
	}
	return mux
}

// HTTPAddr returns the address the HTTP endpoints listen on, or "" when
// they are off.
func (b *Bridge) HTTPAddr() string {
	if b.httpLn == nil {
		return ""
	}
	return b.httpLn.Addr().String()
}

// NATSURL returns the URL of the NATS server in use (the embedded one's
// when none was configured).
func (b *Bridge) NATSURL() string { return b.natsURL }

// MetricNames returns the name of every metric family the bridge has
// registered, sorted: after Start, and once it is ready, all of those
// /metrics serves (a family appears in a scrape only once it has a sample).
// Histograms are named without their _bucket, _sum and _count suffixes.
func (b *Bridge) MetricNames() []string { return b.metrics.Names() }

// Health returns the bridge's readiness state.
func (b *Bridge) Health() health.Status { return b.health.Status() }

// Stop shuts the bridge down: it stops the workers, then the HTTP
// endpoints, drains the NATS connection and stops the embedded server. It
// returns when all of that is done or ctx ends, whichever is first.
func (b *Bridge) Stop(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() { err = b.shutdown(ctx) })
	return err
}

func (b *Bridge) shutdown(ctx context.Context) error {
	errs := []error{b.stopWorkers(ctx)}
	errs = append(errs, b.stopParts(ctx)...)
	errs = append(errs, b.stopHTTP(ctx))
	for _, nc := range []*nats.Conn{b.readsNC, b.nc} {
		if nc != nil {
			errs = append(errs, drain(ctx, nc))
		}
	}
	if b.srv != nil {
		b.srv.Shutdown()
	}
	if b.crm != nil {
		b.crm.Close()
	}
	return errors.Join(errs...)
}

// stopWorkers cancels setUp and waits until it returns or ctx ends.
func (b *Bridge) stopWorkers(ctx context.Context) error {
	if b.cancel != nil {
		b.cancel()
	}
	done := make(chan struct{})
	go func() { b.workers.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("workers did not stop: %w", ctx.Err())
	}
}

// stopParts stops the queries service, the command processor and the
// poller, those that were made, at once (each may take a while), and
// returns the errors of the commands, the poller and the queries.
func (b *Bridge) stopParts(ctx context.Context) []error {
	var stopping sync.WaitGroup
	var errCommands, errPoller, errQueries error
	if b.queriesUp.Load() {
		stopping.Go(func() { errQueries = b.queries.Stop(ctx) })
	}
	if b.commands != nil {
		stopping.Go(func() { errCommands = b.commands.Stop(ctx) })
	}
	if b.poller != nil {
		stopping.Go(func() { errPoller = b.poller.Stop(ctx) })
	}
	stopping.Wait()
	return []error{errCommands, errPoller, errQueries}
}

// stopHTTP shuts the HTTP endpoints down, or closes their listener when
// they were not served yet.
func (b *Bridge) stopHTTP(ctx context.Context) error {
	if b.httpSrv != nil {
		if err := b.httpSrv.Shutdown(ctx); err != nil {
			return fmt.Errorf("http: %w", err)
		}
	} else if b.httpLn != nil {
		b.httpLn.Close()
	}
	return nil
}

// drain drains nc and waits until it is closed or ctx ends.
func drain(ctx context.Context, nc *nats.Conn) error {
	if nc.IsClosed() {
		return nil
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return nil
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("nats: drain: %w", ctx.Err())
	}
}
