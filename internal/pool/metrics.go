package pool

import (
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// metrics are the allocator's: pool usage as the leader last decided it (the same numbers as
// the VIPPool status), and whether pools are on at all.
type metrics struct {
	addresses *prometheus.GaugeVec
	enabled   prometheus.Gauge

	mu    sync.Mutex
	pools map[string]bool // label values set now
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		addresses: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vipkeeper_pool_addresses",
			Help: "Addresses of each VIPPool by state: allocated (in use) or free (can still be handed out); reported by the leading controller."},
			[]string{"pool", "state"}),
		enabled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vipkeeper_pools_enabled",
			Help: "1 while the VIPPool CRD is served and the leading controller allocates, 0 while pools are off."}),
		pools: map[string]bool{},
	}
	if reg == nil {
		return m, nil
	}
	return m, errors.Join(reg.Register(m.addresses), reg.Register(m.enabled))
}

func (m *metrics) poolsEnabled(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.enabled.Set(v)
}

// setPools replaces the usage series with statuses (one pass's decision).
func (m *metrics) setPools(statuses map[string]v1alpha1.VIPPoolStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.pools {
		if _, ok := statuses[name]; !ok {
			m.addresses.DeletePartialMatch(prometheus.Labels{"pool": name})
			delete(m.pools, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(statuses)) {
		st := statuses[name]
		m.addresses.WithLabelValues(name, "allocated").Set(float64(st.Allocated))
		m.addresses.WithLabelValues(name, "free").Set(float64(st.Free))
		m.pools[name] = true
	}
}

// clear drops every usage series: only the leader reports them.
func (m *metrics) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addresses.Reset()
	clear(m.pools)
}
