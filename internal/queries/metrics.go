package queries

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus metrics.
type metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the metrics on reg; with a nil reg they are kept
// but not exported.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crm_bridge_queries_total",
			Help: "Queries answered by this process, by endpoint (get, find, list, resync) and status (ok, or the error code answered).",
		}, []string{"endpoint", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crm_bridge_query_duration_seconds",
			Help:    "Time from taking a query to sending its answer, by endpoint.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5},
		}, []string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.total, m.duration)
	}
	return m
}

func (m *metrics) observe(endpoint, status string, took time.Duration) {
	m.total.WithLabelValues(endpoint, status).Inc()
	m.duration.WithLabelValues(endpoint).Observe(took.Seconds())
}
