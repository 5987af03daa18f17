package daemon

import (
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Metrics are the election loop's Prometheus metrics.
type Metrics struct {
	announced        *prometheus.GaugeVec
	held             prometheus.Gauge
	wanted           prometheus.Gauge
	requests         *prometheus.CounterVec
	latency          *prometheus.HistogramVec
	stepDowns        *prometheus.CounterVec
	transitions      prometheus.Counter
	transfers        *prometheus.CounterVec
	planeFails       *prometheus.CounterVec
	namespaceMissing *prometheus.CounterVec
	pastWakes        prometheus.Counter
	ride
}

// ride are the ride-through's metrics (issue 11).
type ride struct {
	riding            prometheus.Gauge
	rideUntil         prometheus.Gauge
	rideMembers       *prometheus.GaugeVec
	rideEnds          *prometheus.CounterVec
	rideRounds        prometheus.Counter
	rideGranted       prometheus.Counter
	rideRelayed       prometheus.Counter
	rideVouched       prometheus.Counter
	rideUnaddressable prometheus.Counter
	last              [4]uint64
}

func newRide() ride {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	return ride{
		riding: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_ride_through",
			Help: "1 while this node keeps announcing past its renew deadline on its members' attestations."}),
		rideUntil: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_ride_through_until_seconds",
			Help: "When the standing ride-through ends unless renewed (Unix time)."}),
		rideMembers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vipkeeper_ride_through_attested_by",
			Help: "1 for each member whose attestation the standing ride-through rests on."}, []string{"member"}),
		rideEnds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_ride_through_ends_total",
			Help: "Ride-throughs ended, by why: renewed (a renewal landed), unanswered (a member did not attest in time), cap (the cap X was reached)."},
			[]string{"why"}),
		rideRounds:        c("vipkeeper_ride_through_queries_total", "Attestation rounds this node started."),
		rideGranted:       c("vipkeeper_ride_through_granted_total", "Rounds every member attested in time (each extends the deadline)."),
		rideRelayed:       c("vipkeeper_ride_through_relayed_total", "Presence renewals a peer made for this node and it credited."),
		rideVouched:       c("vipkeeper_ride_through_attestations_given_total", "Attestations this node gave (it was blind when asked)."),
		rideUnaddressable: c("vipkeeper_ride_through_unaddressable_total", "Peer messages not sent: the addressee publishes no peer address."),
	}
}

func (r *ride) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.riding, r.rideUntil, r.rideMembers, r.rideEnds, r.rideRounds, r.rideGranted,
		r.rideRelayed, r.rideVouched, r.rideUnaddressable}
}

// rideCounters adds what the core's cumulative counts grew by.
func (r *ride) rideCounters(st election.RideStatus) {
	now := [4]uint64{st.Rounds, st.Granted, st.Relayed, st.Vouched}
	for i, c := range []prometheus.Counter{r.rideRounds, r.rideGranted, r.rideRelayed, r.rideVouched} {
		if now[i] > r.last[i] {
			c.Add(float64(now[i] - r.last[i]))
		}
	}
	r.last = now
}

func (r *ride) setRideMembers(members []string) {
	r.rideMembers.Reset()
	for _, m := range members {
		r.rideMembers.WithLabelValues(m).Set(1)
	}
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		announced: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vipkeeper_vip_leading",
			Help: "1 while this node announces the VIP, per Service using it."}, []string{"vip", "service", "node"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_vips_held",
			Help: "VIPs this node announces."}),
		wanted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_vips_wanted",
			Help: "VIPs that Services of our class want."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_lease_requests_total",
			Help: "Lease API requests by record kind (vip, node = own presence, peer), operation and result class (none = success)."},
			[]string{"kind", "op", "class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vipkeeper_lease_request_duration_seconds",
			Help: "Lease API request latency by record kind and operation.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)},
			[]string{"kind", "op"}),
		stepDowns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_stepdowns_total",
			Help: "VIP withdrawals by reason."}, []string{"reason"}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{Name: "vipkeeper_leadership_transitions_total",
			Help: "Times this node started announcing a VIP."}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_ownership_transfers_total",
			Help: "VIP ownership records this node took, by cause (created, handover, takeover, reacquired)."}, []string{"cause"}),
		planeFails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_dataplane_errors_total",
			Help: "Failed data plane operations (add, remove, sweep)."}, []string{"op"}),
		namespaceMissing: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_lease_namespace_missing_total",
			Help: "Lease creations refused because the namespace does not exist."}, []string{"namespace"}),
		pastWakes: prometheus.NewCounter(prometheus.CounterOpts{Name: "vipkeeper_core_past_wakeups_total",
			Help: "Wake-ups the election core asked for in the past (a bug; the loop never spins on them)."}),
		ride: newRide(),
	}
	if reg != nil {
		reg.MustRegister(m.announced, m.held, m.wanted, m.requests, m.latency, m.stepDowns, m.transitions,
			m.transfers, m.planeFails, m.namespaceMissing, m.pastWakes)
		reg.MustRegister(m.ride.collectors()...)
	}
	return m
}

func (m *Metrics) leaseRequest(kind, op, class string, d time.Duration) {
	m.requests.WithLabelValues(kind, op, class).Inc()
	m.latency.WithLabelValues(kind, op).Observe(d.Seconds())
}

func (m *Metrics) setAnnounced(ip netip.Addr, svcs []types.NamespacedName, node string, on bool) {
	if !on {
		m.held.Dec()
		m.announced.DeletePartialMatch(prometheus.Labels{"vip": ip.String()})
		return
	}
	m.transitions.Inc()
	m.held.Inc()
	names := []string{""}
	if len(svcs) > 0 {
		names = names[:0]
		for _, s := range svcs {
			names = append(names, s.String())
		}
	}
	for _, s := range names {
		m.announced.WithLabelValues(ip.String(), s, node).Set(1)
	}
}
