package leader

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	leading prometheus.Gauge
	terms   prometheus.Counter
}

func (m *metrics) register(reg prometheus.Registerer) error {
	m.leading = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_controller_leading",
		Help: "1 while this controller replica leads and runs the cluster writers."})
	m.terms = prometheus.NewCounter(prometheus.CounterOpts{Name: "vipkeeper_controller_terms_total",
		Help: "Leadership terms this controller replica started."})
	if reg == nil {
		return nil
	}
	return errors.Join(reg.Register(m.leading), reg.Register(m.terms))
}

func (m *metrics) lead(on bool) {
	if on {
		m.leading.Set(1)
		m.terms.Inc()
		return
	}
	m.leading.Set(0)
}
