package bridge

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormic/crm-bridge/internal/crm"
)

// crmMetrics registers the CRM client's metrics on reg and returns the
// client's Observe hook.
func crmMetrics(reg prometheus.Registerer) func(op string, status int, took time.Duration) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_bridge_crm_requests_total",
		Help: "Requests to the CRM, by operation and HTTP status (0: no answer).",
	}, []string{"op", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "crm_bridge_crm_request_duration_seconds",
		Help:    "Time from sending a CRM request to reading its whole answer, by operation.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"op"})
	reg.MustRegister(requests, duration)
	return func(op string, status int, took time.Duration) {
		requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
		duration.WithLabelValues(op).Observe(took.Seconds())
	}
}

// rateShareMetric returns the gauge of the process's share of the CRM's
// rate (BRIDGE_CRM_RATE divided by the live processes).
func rateShareMetric(c *crm.Client) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "crm_bridge_crm_rate_share",
		Help: "Most CRM requests per second this process sends: its share of BRIDGE_CRM_RATE, the budget of all live bridge processes (0: no limit). A 429 lowers the rate in force below it for a while.",
	}, c.RateShare)
}

// crmWarnings registers the count of the CRM's warnings and returns the
// client's Config.Warned that feeds it.
func crmWarnings(reg prometheus.Registerer) func(op string, n int) {
	warnings := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crm_bridge_crm_warnings_total",
		Help: "Warnings in the CRM's answers, by operation.",
	}, []string{"op"})
	reg.MustRegister(warnings)
	return func(op string, n int) { warnings.WithLabelValues(op).Add(float64(n)) }
}
