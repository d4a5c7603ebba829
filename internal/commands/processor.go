package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// Processor consumes commands from CRM_COMMANDS, applies them to the CRM
// and publishes their results and dead letters. Any number of processes may
// run one on the same streams. See the package documentation for how it
// keeps each customer's commands in order.
type Processor struct {
	cfg      Config
	nc       *nats.Conn
	js       jetstream.JetStream
	subjects streams.Subjects
	layout   streams.Layout
	apply    *applier
	gate     *gate
	log      *slog.Logger
	metrics  *metrics
	tracer   trace.Tracer

	// resultSubject is subjects.Result(), made once.
	resultSubject string

	slots  chan struct{} // one per command in flight
	holder *holder
	// run runs every command's goroutine: partitions' and creates'.
	run *pool

	// fetchCtx ends when Stop begins: no new commands are taken.
	fetchCtx  context.Context
	stopFetch context.CancelFunc
	// workCtx ends StopTimeout later: commands still in flight are handed
	// back.
	workCtx  context.Context
	stopWork context.CancelFunc

	owner      *owner
	creates    jetstream.MessagesContext
	holderDone chan struct{} // closed when nothing can be held any more
	workers    sync.WaitGroup
	started    atomic.Bool
	stopped    atomic.Bool
}

// New returns a processor for cfg. It does not touch NATS until Start.
func New(nc *nats.Conn, js jetstream.JetStream, client CRM, cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := newGate(cfg.OutageAfter)
	m := newMetrics(cfg.Metrics, js)
	p := &Processor{
		metrics:  m,
		cfg:      cfg,
		nc:       nc,
		js:       js,
		subjects: streams.Subjects{Prefix: cfg.Prefix},
		layout:   streams.Layout{Prefix: cfg.Prefix, Partitions: streams.CommandPartitions},
		apply:    &applier{crm: client, cfg: cfg, gate: g, metrics: m},
		gate:     g,
		log:      cfg.Logger,
		slots:    make(chan struct{}, cfg.Concurrency),
		holder:   newHolder(),
		run:      newPool(time.Minute),
		tracer:   cfg.TracerProvider.Tracer(tracing.Name),
	}
	p.resultSubject = p.subjects.Result()
	p.fetchCtx, p.stopFetch = context.WithCancel(context.Background())
	p.workCtx, p.stopWork = context.WithCancel(context.Background())
	return p, nil
}

// LeaseBucket is the key-value bucket of the processes' claims on
// partitions.
const LeaseBucket = "crm_bridge_leases"

// Start creates or updates the consumers (one per partition, one for
// creates) and the lease bucket, and starts taking commands. The streams
// must exist. It returns an error when a consumer or the bucket cannot be
// made.
func (p *Processor) Start(ctx context.Context) error {
	kv, err := lease.Bucket(ctx, p.js, LeaseBucket, "crm-bridge: which process runs which command partition", p.cfg.LeaseTTL, p.cfg.Replicas)
	if err != nil {
		return fmt.Errorf("commands: %w", err)
	}
	partitions, err := p.ensureConsumers(ctx)
	if err != nil {
		return err
	}
	creates, err := p.consumer(ctx, jetstream.ConsumerConfig{
		Durable:       streams.CreateConsumer,
		Description:   "crm-bridge: creates",
		FilterSubject: p.subjects.Create(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: p.cfg.Concurrency,
	})
	if err != nil {
		return fmt.Errorf("commands: consumer %s: %w", streams.CreateConsumer, err)
	}
	p.owner = &owner{
		p:      p,
		leases: &lease.Leases{KV: kv, Owner: nuid.Next(), TTL: p.cfg.LeaseTTL},
		// Renew often enough that a lease always holds for a call's
		// timeout (see applier.fence).
		every: max(100*time.Millisecond, min(p.cfg.LeaseTTL/6, (p.cfg.LeaseTTL-p.cfg.CallTimeout-time.Second)/3)),
		held:  map[int]*partition{},
		cons:  partitions,
	}
	p.owner.members(ctx) // the CRM rate's share, before the first command
	if err := p.consumeCreates(creates); err != nil {
		_ = kv.Delete(ctx, memberKey(p.owner.leases.Owner))
		p.owner = nil
		return err
	}
	p.workers.Go(func() { p.owner.run(p.fetchCtx) })
	p.workers.Go(p.probe)
	p.holderDone = make(chan struct{})
	go p.holder.run(p.cfg.AckWait/3, p.holderDone)
	p.started.Store(true)
	p.log.Info("taking commands", "partitions", p.layout.Partitions, "concurrency", p.cfg.Concurrency, "stream", streams.Commands)
	return nil
}

// consumeCreates starts taking creates, each in its own goroutine (the
// consumer's MaxAckPending bounds them); a create that is not finished
// when the processor stops is handed back at once.
func (p *Processor) consumeCreates(c jetstream.Consumer) error {
	it, err := c.Messages(jetstream.PullMaxMessages(p.cfg.Concurrency))
	if err != nil {
		return fmt.Errorf("commands: consume %s: %w", streams.CreateConsumer, err)
	}
	p.creates = it
	p.workers.Go(func() {
		var inflight sync.WaitGroup
		defer inflight.Wait()
		for {
			msg, err := it.Next()
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if err != nil {
				if p.fetchCtx.Err() == nil {
					p.log.Debug("fetching creates", "err", err)
				}
				pause(p.fetchCtx, 100*time.Millisecond) // a disconnect must not make this spin
				continue
			}
			if p.fetchCtx.Err() != nil {
				_ = msg.Nak() // drained after Stop: hand it back at once
				continue
			}
			p.holder.hold(msg)
			inflight.Add(1)
			p.run.Go(func() {
				defer inflight.Done()
				defer p.holder.release(msg)
				if !p.handle(p.workCtx, msg, nil, nil, nil) {
					_ = msg.Nak()
				}
			})
		}
	})
	return nil
}

// probe asks the CRM once at start whether its URL reaches the CRM's API
// (a bare 404 closes the gate at once, before any command meets it), and
// then, while the gate is closed, whether it is back.
func (p *Processor) probe() {
	ctx, cancel := context.WithTimeout(p.fetchCtx, p.cfg.CallTimeout+time.Second)
	err := p.probeOnce(ctx)
	cancel()
	if crm.Classify(err) == crm.Misrouted {
		p.apply.misconfigured(err, p.log)
	}
	t := time.NewTicker(p.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-p.fetchCtx.Done():
			return
		case <-t.C:
		}
		if p.gate.closed() == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(p.fetchCtx, p.cfg.ProbeInterval)
		err := p.probeOnce(ctx)
		cancel()
		if err == nil {
			if p.gate.answered() {
				p.log.Info("CRM answers again: taking new commands")
			}
		} else {
			p.log.Warn("CRM still not usable", "reason", p.gate.closed(), "probe_err", err)
		}
	}
}

// probeOnce makes a cheap read: the export of what changed from now on.
func (p *Processor) probeOnce(ctx context.Context) error {
	for _, err := range p.apply.crm.Export(ctx, time.Now().Add(time.Hour)) {
		return err
	}
	return nil
}

// Ready returns nil while the processor takes commands, or why it does not.
func (p *Processor) Ready() error {
	if !p.started.Load() {
		return errors.New("not started")
	}
	if p.stopped.Load() {
		return errors.New("stopping")
	}
	return p.gate.closed()
}

// Stop stops taking commands, lets those in flight finish for up to
// StopTimeout, hands the rest back to JetStream in stream order, releases
// the partitions, and returns when every worker is done or ctx ends.
func (p *Processor) Stop(ctx context.Context) error {
	if !p.stopped.CompareAndSwap(false, true) {
		return nil
	}
	p.stopFetch()
	done := make(chan struct{})
	go func() {
		if p.creates != nil {
			p.creates.Drain()
		}
		if p.owner != nil {
			p.owner.stopAll() // each partition within StopTimeout
		}
		p.workers.Wait()
		p.run.close()
		if p.holderDone != nil {
			close(p.holderDone)
		}
		close(done)
	}()
	grace := time.NewTimer(p.cfg.StopTimeout)
	defer grace.Stop()
	select {
	case <-done:
		p.stopWork()
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	p.stopWork() // creates still in flight are handed back
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("commands: stop: %w", ctx.Err())
	}
}
