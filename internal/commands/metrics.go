package commands

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormic/crm-bridge/internal/streams"
)

// metrics are the processor's Prometheus metrics.
type metrics struct {
	commands    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	lookups     *prometheus.HistogramVec
}

// Labels of crm_bridge_command_lookup_duration_seconds: where the lookup
// of an ambiguous create found its customer, or that it did not.
const (
	lookupModel    = "model"     // in the read model's phone index
	lookupExport   = "export"    // in the CRM's export since the first attempt
	lookupNotFound = "not_found" // in neither: the create is rejected
	lookupError    = "error"     // the export failed: the lookup is retried
)

func newMetrics(reg prometheus.Registerer, js jetstream.JetStream) *metrics {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_bridge_commands_total",
			Help: "Commands finished, by op and status (applied, rejected, failed).",
		}, []string{"op", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crm_bridge_command_duration_seconds",
			Help:    "From a command's publication to its stored result, by op and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}, []string{"op", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_bridge_command_retries_total",
			Help: "CRM calls of commands that failed transiently and were retried, by op.",
		}, []string{"op"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_bridge_dead_letters_total",
			Help: "Dead letters written, by op and status (rejected, failed).",
		}, []string{"op", "status"}),
		lookups: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crm_bridge_command_lookup_duration_seconds",
			Help:    "Lookups of the customer an ambiguous create made (refused DUPLICATE_PHONE after an attempt whose answer was lost), by where it was found: model, export, not_found, or error.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"found"}),
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.duration, m.retries, m.deadLetters, m.lookups, pendingCollector{js: js}, dlqCollector{js: js})
	}
	return m
}

// pendingCollector reports, when scraped, how many commands wait in the
// bridge's consumers: not yet delivered, and delivered but not yet
// acknowledged.
type pendingCollector struct {
	js jetstream.JetStream
}

var (
	pendingDesc = prometheus.NewDesc("crm_bridge_commands_pending",
		"Commands stored and not yet delivered to a bridge process (all consumers of CRM_COMMANDS).", nil, nil)
	inFlightDesc = prometheus.NewDesc("crm_bridge_commands_ack_pending",
		"Commands delivered to a bridge process and not yet acknowledged (all consumers of CRM_COMMANDS).", nil, nil)
)

func (c pendingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- inFlightDesc
}

// Collect asks the server; when it cannot answer within 2 s the gauges are
// left out of this scrape rather than reported wrong.
func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, streams.Commands)
	if err != nil {
		return
	}
	var pending, ackPending float64
	list := s.ListConsumers(ctx)
	for info := range list.Info() {
		pending += float64(info.NumPending)
		ackPending += float64(info.NumAckPending)
	}
	if list.Err() != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, pending)
	ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, ackPending)
}

// dlqCollector reports, when scraped, how many dead letters CRM_DLQ holds:
// those waiting to be replayed or discarded. Every process of a deployment
// reports the same stream, so the figure is the deployment's.
type dlqCollector struct {
	js jetstream.JetStream
}

var dlqWaitingDesc = prometheus.NewDesc("crm_bridge_dead_letters_waiting",
	"Dead letters in CRM_DLQ, waiting to be replayed or discarded (the whole deployment's: every process reports the same stream).", nil, nil)

func (c dlqCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dlqWaitingDesc }

// Collect asks the server; when it cannot answer within 2 s the gauge is
// left out of this scrape rather than reported wrong.
func (c dlqCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.js.Stream(ctx, streams.DLQ)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(dlqWaitingDesc, prometheus.GaugeValue, float64(s.CachedInfo().State.Msgs))
}
