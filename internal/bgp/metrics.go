package bgp

import (
	"context"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descState = prometheus.NewDesc("vipkeeper_bgp_session_state",
		"1 for the BGP FSM state each peer's session is in now.", []string{"peer", "state"}, nil)
	descUp = prometheus.NewDesc("vipkeeper_bgp_session_up",
		"1 while the session with the peer is established.", []string{"peer"}, nil)
	descRoutes = prometheus.NewDesc("vipkeeper_bgp_routes_advertised",
		"Routes this node advertises to the peer now.", []string{"peer"}, nil)
	descUpdates = prometheus.NewDesc("vipkeeper_bgp_updates_sent_total",
		"BGP UPDATE messages sent to the peer (GoBGP's counter, since the neighbour was configured).", []string{"peer"}, nil)
	descFlaps = prometheus.NewDesc("vipkeeper_bgp_session_flaps_total",
		"Times the session with the peer went down after being established.", []string{"peer"}, nil)
)

var fsmStates = []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established"}

// Collector returns a Prometheus collector that reads the speaker at scrape time, so the
// figures are GoBGP's own and never counted twice.
func (s *Speaker) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Speaker }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descUp, descRoutes, descUpdates, descFlaps} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	routes := c.s.RoutesTo()
	updates := c.s.updatesSent()
	for _, st := range c.s.Sessions() {
		for _, name := range fsmStates {
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, b2f(st.State == name), st.Peer, name)
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, b2f(st.Established), st.Peer)
		ch <- prometheus.MustNewConstMetric(descRoutes, prometheus.GaugeValue, float64(routes[st.Peer]), st.Peer)
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(updates[st.Address.String()]), st.Peer)
		ch <- prometheus.MustNewConstMetric(descFlaps, prometheus.CounterValue, float64(st.Flaps), st.Peer)
	}
}

// updatesSent asks GoBGP for the UPDATE messages sent, by neighbour address.
func (s *Speaker) updatesSent() map[string]uint64 {
	out := map[string]uint64{}
	s.mu.Lock()
	live := s.started && !s.closed // GoBGP answers only while it serves
	s.mu.Unlock()
	if !live {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetMessages().GetSent() != nil {
			out[p.GetConf().GetNeighborAddress()] = p.GetState().GetMessages().GetSent().GetUpdate()
		}
	})
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
