package queries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/gormic/crm-bridge/internal/model"
)

// Service is one process's part of the NATS service crm-bridge. Start it
// once, then Stop it once; ByPhone is safe for concurrent use.
type Service struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	metrics *metrics

	customers jetstream.KeyValue
	statusKV  jetstream.KeyValue
	// index is the Index in use (nil until the first is sealed).
	index atomic.Pointer[Index]
	// status is the model's status as last seen (nil: none yet);
	// statusSeen is set once the status watch has caught up.
	status     atomic.Pointer[model.Status]
	statusSeen atomic.Bool
	// filled is closed once the status has said the model is filled: the
	// index is built from then on (followCustomers).
	filled     chan struct{}
	filledOnce sync.Once

	svc      micro.Service
	sem      chan struct{}
	inflight sync.WaitGroup
	cancel   context.CancelFunc
	workers  sync.WaitGroup
}

// New returns a Service for cfg, or cfg.Validate's error.
func New(nc *nats.Conn, js jetstream.JetStream, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Service{cfg: cfg, nc: nc, js: js, log: cfg.Logger, metrics: newMetrics(cfg.Metrics), sem: make(chan struct{}, cfg.Workers),
		filled: make(chan struct{})}, nil
}

var semver = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// Start creates the model's buckets when missing, starts following them
// and adds the service's endpoints; once it returns, the server has their
// subscriptions. It returns an error, having undone what it started, when
// the buckets or the service cannot be made.
func (s *Service) Start(ctx context.Context) error {
	var err error
	if s.customers, s.statusKV, err = model.Ensure(ctx, s.js, s.cfg.Replicas); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.workers.Go(func() { s.followCustomers(wctx) })
	s.workers.Go(func() { s.followStatus(wctx) })
	version := s.cfg.Version
	if !semver.MatchString(version) {
		version = "0.0.0-" + "dev"
	}
	s.svc, err = micro.AddService(s.nc, micro.Config{
		Name:        ServiceName,
		Version:     version,
		Description: "crm-bridge queries: customers from the read model CRM_CUSTOMERS (docs/contract.md, Queries)",
		QueueGroup:  QueueGroup,
	})
	if err == nil {
		err = s.addEndpoints()
	}
	if err == nil {
		// The server has the endpoints' subscriptions once Start returns,
		// so a request made after it has a responder.
		err = s.nc.FlushTimeout(10 * time.Second)
	}
	if err != nil {
		s.stopWatches()
		if s.svc != nil {
			s.svc.Stop()
		}
		return fmt.Errorf("queries: service %s: %w", ServiceName, err)
	}
	s.log.Info("queries served", "service", ServiceName, "queue_group", QueueGroup, "prefix", s.cfg.Prefix)
	return nil
}

func (s *Service) addEndpoints() error {
	p := s.cfg.Prefix
	eps := []struct {
		name, subject string
		answer        func(context.Context, micro.Request) ([]byte, *Error)
	}{
		{"get", p + ".customer.get.*", s.get},
		{"find", p + ".customer.find", s.find},
		{"list", p + ".customer.list", s.list},
		{"resync", p + ".bridge.resync", s.resync},
	}
	for _, ep := range eps {
		h := s.handler(ep.name, ep.answer)
		if err := s.svc.AddEndpoint(ep.name, h, micro.WithEndpointSubject(ep.subject)); err != nil {
			return err
		}
	}
	return nil
}

// handler answers each request of an endpoint on its own goroutine, at
// most Config.Workers at once in all endpoints. The answer is published
// here rather than through micro's Request, whose handler must return
// before micro reads the request again: `nats micro stats` counts the
// requests, /metrics also their errors.
func (s *Service) handler(endpoint string, answer func(context.Context, micro.Request) ([]byte, *Error)) micro.HandlerFunc {
	return func(req micro.Request) {
		s.sem <- struct{}{}
		s.inflight.Go(func() {
			defer func() { <-s.sem }()
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
			defer cancel()
			body, qerr := answer(ctx, req)
			status := "ok"
			if qerr != nil {
				status = qerr.Code
			}
			if err := s.send(req.Reply(), body, qerr); err != nil {
				s.log.Warn("query answer not sent", "endpoint", endpoint, "subject", req.Subject(), "err", err)
			}
			s.metrics.observe(endpoint, status, time.Since(start))
		})
	}
}

// send publishes an answer to reply: body, or qerr with the NATS service
// error headers (as micro.Request.Error sets them).
func (s *Service) send(reply string, body []byte, qerr *Error) error {
	if reply == "" {
		return nil
	}
	m := nats.NewMsg(reply)
	m.Data = body
	if qerr != nil {
		m.Header.Set(micro.ErrorHeader, qerr.Code)
		m.Header.Set(micro.ErrorCodeHeader, qerr.status())
		m.Data = qerr.body()
	}
	return s.nc.PublishMsg(m)
}

// Stop removes the service's endpoints, waits for the answers in flight
// (or ctx) and stops following the model.
func (s *Service) Stop(ctx context.Context) error {
	var errs []error
	if s.svc != nil {
		if err := s.svc.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("queries: stop: %w", err))
		}
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("queries: answers in flight: %w", ctx.Err()))
	}
	s.stopWatches()
	return errors.Join(errs...)
}

func (s *Service) stopWatches() {
	if s.cancel != nil {
		s.cancel()
	}
	s.workers.Wait()
}

// Indexed reports whether the Index has seen every record of the model
// that was there when the process began following it.
func (s *Service) Indexed() bool { return s.index.Load() != nil }

// readyStatus returns the model's status, or NOT_READY while the model is
// not filled or its status not yet read.
func (s *Service) readyStatus() (model.Status, *Error) {
	st := s.status.Load()
	switch {
	case !s.statusSeen.Load():
		return model.Status{}, notReady("the read model's status has not been read yet")
	case st == nil || !st.Filled:
		return model.Status{}, notReady("the read model is not filled yet: the first complete export has not finished")
	}
	return *st, nil
}

// readyIndex returns the Index, or NOT_READY.
func (s *Service) readyIndex() (*Index, *Error) {
	if _, qerr := s.readyStatus(); qerr != nil {
		return nil, qerr
	}
	x := s.index.Load()
	if x == nil {
		return nil, notReady("this process is still indexing the read model")
	}
	return x, nil
}
