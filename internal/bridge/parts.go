package bridge

import (
	"context"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/queries"
)

// newParts makes the CRM client and the parts that share it: the queries
// service, the command processor and the poller. None of them is started:
// setUp does that once the streams exist.
func (b *Bridge) newParts() (err error) {
	if b.crm, err = crm.New(b.crmConfig()); err != nil {
		return err
	}
	b.metrics.MustRegister(rateShareMetric(b.crm))
	if b.queries, err = queries.New(b.nc, b.js, b.queriesConfig()); err != nil {
		return err
	}
	if b.commands, err = commands.New(b.nc, b.js, b.crm, b.commandsConfig()); err != nil {
		return err
	}
	b.poller, err = poller.New(b.js, b.crm, b.pollerConfig())
	return err
}

// crmConfig is the configuration of the process's one CRM client, which
// the commands, the poller and the queries' fresh gets share.
func (b *Bridge) crmConfig() crm.Config {
	return crm.Config{
		BaseURL:   b.cfg.CRMURL,
		APIKey:    b.cfg.CRMAPIKey.Reveal(),
		OrgID:     b.cfg.CRMOrgID,
		Timeout:   b.cfg.CRMTimeout,
		Rate:      b.cfg.CRMRate,
		MaxConns:  b.cfg.Concurrency + 4,
		UserAgent: "crm-bridge/" + b.version,
		Logger:    b.log.With("component", "crm"),
		Observe:   crmMetrics(b.metrics),
		Warned:    crmWarnings(b.metrics),

		TracerProvider: b.tracer,
	}
}

// queriesConfig is the configuration of the queries service; b.crm must
// be set.
func (b *Bridge) queriesConfig() queries.Config {
	return queries.Config{
		Prefix:   b.cfg.SubjectPrefix,
		Version:  strings.TrimPrefix(b.version, "v"),
		Replicas: b.cfg.StreamReplicas,
		// Fresh gets share the process's CRM client and its rate.
		CRM: b.crm,
		// A resync reaches the active poller, whichever process holds
		// its lease (b.poller is set by newParts before the service
		// starts).
		Resync:  func(ctx context.Context) (time.Time, error) { return b.poller.Resync(ctx) },
		Logger:  b.log.With("component", "queries"),
		Metrics: b.metrics,
	}
}

// commandsConfig is the configuration of the command processor; b.crm and
// b.queries must be set.
func (b *Bridge) commandsConfig() commands.Config {
	return commands.Config{
		Prefix:          b.cfg.SubjectPrefix,
		Concurrency:     b.cfg.Concurrency,
		Replicas:        b.cfg.StreamReplicas,
		RetryMaxElapsed: b.cfg.RetryMaxElapsed,
		CallTimeout:     b.cfg.CRMTimeout,
		// The commands' membership says how many processes share the
		// CRM's rate (commands and poller alike: one client).
		OnProcesses: b.crm.SetProcesses,
		// A delete applied here reaches the events within one poll
		// interval, whichever process polls (b.poller is set by newParts
		// before the processor starts).
		Deleted: func(ctx context.Context, id string) error { return b.poller.NoteDeleted(ctx, id) },
		// A create retried after a lost answer looks in this process's
		// read model index first.
		Model:          b.queries,
		Logger:         b.log.With("component", "commands"),
		Metrics:        b.metrics,
		TracerProvider: b.tracer,
	}
}

// pollerConfig is the configuration of the change poller.
func (b *Bridge) pollerConfig() poller.Config {
	return poller.Config{
		Prefix:            b.cfg.SubjectPrefix,
		OrgID:             b.cfg.CRMOrgID,
		Interval:          b.cfg.PollInterval,
		ReconcileInterval: b.cfg.ReconcileInterval,
		InitialEvents:     b.cfg.PollerInitialEvents,
		Replicas:          b.cfg.StreamReplicas,
		Logger:            b.log.With("component", "poller"),
		Metrics:           b.metrics,
		TracerProvider:    b.tracer,
		Reads:             b.reads,
	}
}
