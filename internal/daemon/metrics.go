package daemon

import (
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the elector's Prometheus metrics.
type Metrics struct {
	leading    *prometheus.GaugeVec
	wanted     prometheus.Gauge
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	stepDowns  *prometheus.CounterVec
	announces  prometheus.Counter
	planeFails *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		leading: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vipkeeper_vip_leading",
			Help: "1 while this node holds the VIP's Lease and announces it."}, []string{"vip"}),
		wanted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_vips_wanted",
			Help: "VIPs that Services of our class want."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_lease_requests_total",
			Help: "Lease API requests by operation and result class (none = success)."}, []string{"op", "class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vipkeeper_lease_request_duration_seconds",
			Help: "Lease API request latency.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"op"}),
		stepDowns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_stepdowns_total",
			Help: "VIP withdrawals by reason."}, []string{"reason"}),
		announces: prometheus.NewCounter(prometheus.CounterOpts{Name: "vipkeeper_leadership_transitions_total",
			Help: "Times this node started announcing a VIP."}),
		planeFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_dataplane_errors_total",
			Help: "Failed data plane operations."}, []string{"op"}),
	}
	if reg != nil {
		reg.MustRegister(m.leading, m.wanted, m.requests, m.latency, m.stepDowns, m.announces, m.planeFails)
	}
	return m
}

func (m *Metrics) leaseRequest(op, class string, d time.Duration) {
	m.requests.WithLabelValues(op, class).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}

func (m *Metrics) setLeading(ip netip.Addr, on bool) {
	if on {
		m.leading.WithLabelValues(ip.String()).Set(1)
		m.announces.Inc()
		return
	}
	m.leading.DeleteLabelValues(ip.String())
}

func (m *Metrics) stepDown(reason string)   { m.stepDowns.WithLabelValues(reason).Inc() }
func (m *Metrics) dataplaneError(op string) { m.planeFails.WithLabelValues(op).Inc() }
