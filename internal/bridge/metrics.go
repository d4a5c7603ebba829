package bridge

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/health"
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

// readyDesc is /readyz as a metric, one sample per part.
var readyDesc = prometheus.NewDesc("crm_bridge_ready",
	"1 while a part of this process (nats, streams, commands, poller) is ready, 0 while it is not and /readyz answers 503 because of it.",
	[]string{"part"}, nil)

// readyCollector exports the state /readyz answers with, read at each
// scrape: crm_bridge_ready{part} is 1 or 0.
type readyCollector struct{ h *health.Health }

func (c readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c readyCollector) Collect(ch chan<- prometheus.Metric) {
	for part, state := range c.h.Status().Parts {
		v := 0.0
		if state == "ok" {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, part)
	}
}

// registry is the bridge's Prometheus registry. It remembers the name of
// every metric family registered on it, which Bridge.MetricNames returns.
// It is safe for concurrent use.
type registry struct {
	*prometheus.Registry
	mu    sync.Mutex
	names map[string]bool
}

var _ prometheus.Registerer = (*registry)(nil)

func newRegistry() *registry {
	return &registry{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
}

// Register registers c and records the names of the metrics it describes.
func (r *registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	descs := make(chan *prometheus.Desc)
	go func() {
		c.Describe(descs)
		close(descs)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range descs {
		if name, ok := descName(d); ok {
			r.names[name] = true
		}
	}
	return nil
}

// MustRegister registers each collector, panicking on the first error, as
// prometheus.Registry.MustRegister does.
func (r *registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Names returns the metric families registered so far, sorted.
func (r *registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.names))
}

var descNameRE = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*")`)

// descName returns a descriptor's fully qualified name. client_golang
// offers it only in Desc.String.
func descName(d *prometheus.Desc) (string, bool) {
	m := descNameRE.FindStringSubmatch(d.String())
	if m == nil {
		return "", false
	}
	name, err := strconv.Unquote(m[1])
	return name, err == nil && name != ""
}
