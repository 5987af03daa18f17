package peer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Drop reasons, the values of vipkeeper_peer_dropped_total's reason label.
const (
	reasonMalformed    = "malformed"
	reasonUnknownKey   = "unknown_key"
	reasonBadMAC       = "bad_mac"
	reasonStale        = "stale"
	reasonReplay       = "replay"
	reasonMisaddressed = "misaddressed"
)

var (
	errStale        = errors.New("counter outside the freshness window of a new sender")
	errReplay       = errors.New("counter seen before or behind the replay window")
	errMisaddressed = errors.New("addressed to another node")
)

// reasons maps each way a datagram is dropped to its label value.
var reasons = []struct {
	err    error
	reason string
}{
	{ErrMalformed, reasonMalformed},
	{ErrUnknownKey, reasonUnknownKey},
	{ErrBadMAC, reasonBadMAC},
	{errStale, reasonStale},
	{errReplay, reasonReplay},
	{errMisaddressed, reasonMisaddressed},
}

// reason gives err's drop reason; an error of no known class counts as malformed.
func reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return reasonMalformed
}

type metrics struct {
	received, sent, dropped *prometheus.CounterVec
	sendErrors, reloadErrs  prometheus.Counter
	keys                    prometheus.Gauge
}

func newMetrics() *metrics {
	m := &metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_peer_received_total",
			Help: "Peer messages accepted and delivered, by kind."}, []string{"kind"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_peer_sent_total",
			Help: "Peer messages sent, by kind."}, []string{"kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_peer_dropped_total",
			Help: "Peer datagrams dropped, by reason."}, []string{"reason"}),
		sendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vipkeeper_peer_send_errors_total",
			Help: "Peer messages that could not be encoded or sent."}),
		reloadErrs: prometheus.NewCounter(prometheus.CounterOpts{Name: "vipkeeper_peer_key_reload_errors_total",
			Help: "Reloads of the peer key directory that failed and kept the previous keys."}),
		keys: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_peer_keys",
			Help: "Peer keys currently accepted."}),
	}
	for _, k := range kinds { // export zeros, so that rates exist before the first message
		m.received.WithLabelValues(k.String())
		m.sent.WithLabelValues(k.String())
	}
	for _, r := range reasons {
		m.dropped.WithLabelValues(r.reason)
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	return errors.Join(reg.Register(m.received), reg.Register(m.sent), reg.Register(m.dropped),
		reg.Register(m.sendErrors), reg.Register(m.reloadErrs), reg.Register(m.keys))
}
