package poller

import "github.com/prometheus/client_golang/prometheus"

// metrics are the poller's Prometheus metrics.
type metrics struct {
	active  prometheus.Gauge
	events  *prometheus.CounterVec
	passes  *prometheus.CounterVec
	records prometheus.Counter
	pages   prometheus.Counter
	invalid prometheus.Counter
	// truncated counts events published without before and after.
	truncated prometheus.Counter
	// badUpdatedAt counts records whose updatedAt is not RFC 3339.
	badUpdatedAt prometheus.Counter
	// lastComplete is when the last complete poll started (Unix seconds).
	lastComplete prometheus.Gauge
	// modelResent counts batches of read model entries sent again
	// (modelwrite.go).
	modelResent prometheus.Counter
	// steps times each step of the pipeline's rounds (pipeline.go), by
	// step: load, events, model, state.
	steps *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, p *Poller) *metrics {
	m := &metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crm_bridge_poller_active",
			Help: "1 while this process is the one polling the CRM for changes.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_bridge_poller_events_total",
			Help: "Change events published, by change.",
		}, []string{"change"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_bridge_poller_polls_total",
			Help: "Polls of the CRM export, by kind (changes, reconcile) and result (ok, error).",
		}, []string{"kind", "result"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crm_bridge_poller_records_total",
			Help: "Customer records read from the CRM export.",
		}),
		pages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crm_bridge_poller_pages_total",
			Help: "Pages of the CRM export fetched.",
		}),
		lastComplete: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crm_bridge_poller_last_success_timestamp_seconds",
			Help: "When the last complete poll started (Unix time); every change the CRM made before then is published.",
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crm_bridge_poller_invalid_records_total",
			Help: "Customer records skipped because they are not usable JSON objects.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crm_bridge_poller_truncated_events_total",
			Help: "Change events published without before and after, because they are too large for one NATS message.",
		}),
		badUpdatedAt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crm_bridge_poller_invalid_updated_at_total",
			Help: "Customer records read whose updatedAt is missing or not an RFC 3339 timestamp (they cannot move the cursor).",
		}),
		modelResent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crm_bridge_poller_model_batches_resent_total",
			Help: "Batches of read model entries sent again, each entry acknowledged, because the server did not store them all as sent: another write came between, or it shed load.",
		}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crm_bridge_poller_step_seconds",
			Help:    "Time one round of the poller's writes (the changes of one export page, at most 1,000 customers) spent on each step: load (their saved state), events, model (their read model entries), state (saving them).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8), // 1 ms to 16 s
		}, []string{"step"}),
	}
	if reg != nil {
		lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crm_bridge_poller_lag_seconds",
			Help: "Time since the last complete poll started, while this process polls; 0 otherwise.",
		}, func() float64 { return p.Status().Lag(p.cfg.Now()).Seconds() })
		reg.MustRegister(m.active, m.events, m.passes, m.records, m.pages, m.invalid, m.truncated, m.badUpdatedAt, m.lastComplete, m.modelResent, m.steps, lag)
	}
	return m
}
