package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// SessionState is one peer's session as this node sees it (for status and metrics).
type SessionState struct {
	Peer        string
	Address     netip.Addr
	State       string // BGP FSM state name
	Established bool
	Reason      string // why it is not established (last disconnect, or "connecting")
	Refused     bool   // the router refused us (NOTIFICATION during the open exchange)
	Since       time.Time
	Flaps       int // times it went down after being established
}

// session is one configured peer.
type session struct {
	peer     Peer
	state    bgp.FSMState
	reason   string
	refused  bool
	since    time.Time
	flaps    int
	failures int         // refusals in a row, for the backoff
	retry    *time.Timer // re-enables a peer disabled by the backoff
	notes    uint64      // NOTIFICATION messages sent and received, as last polled
}

func newSession(p Peer) *session {
	return &session{peer: p, state: bgp.BGP_FSM_IDLE, reason: "connecting", since: time.Now()}
}

// observe records a state change; up is whether the session is established now and
// changed whether that differs from before.
func (s *session) observe(st bgp.FSMState, why api.PeerState_DisconnectReason, msg string) (up, changed bool) {
	was := s.state == bgp.BGP_FSM_ESTABLISHED
	up = st == bgp.BGP_FSM_ESTABLISHED
	s.state = st
	switch {
	case up:
		s.reason, s.refused, s.failures = "", false, 0
	case was:
		s.flaps++
		s.reason = disconnectText(why, msg)
	case why != api.PeerState_DISCONNECT_REASON_UNSPECIFIED:
		s.reason = disconnectText(why, msg)
	}
	if up != was {
		s.since = time.Now()
	}
	return up, up != was
}

// refusedLocked reports whether the router refused the session during the open exchange
// (wrong ASN, bad password with a router that says so, unsupported capability).
func (s *session) refusedLocked(why api.PeerState_DisconnectReason) bool {
	if s.state == bgp.BGP_FSM_ESTABLISHED {
		return false
	}
	switch why {
	case api.PeerState_DISCONNECT_REASON_NOTIFICATION_RECEIVED, api.PeerState_DISCONNECT_REASON_NOTIFICATION_SENT,
		api.PeerState_DISCONNECT_REASON_BAD_PEER_AS:
		s.refused = true
		return true
	}
	return false
}

func disconnectText(why api.PeerState_DisconnectReason, msg string) string {
	r := strings.ToLower(strings.TrimPrefix(why.String(), "DISCONNECT_REASON_"))
	if msg != "" && !strings.EqualFold(msg, r) {
		r += ": " + msg
	}
	return r
}

func (s *session) snapshot() SessionState {
	return SessionState{Peer: s.peer.Name, Address: s.peer.Addr, State: stateName(s.state),
		Established: s.state == bgp.BGP_FSM_ESTABLISHED, Reason: s.reason, Refused: s.refused,
		Since: s.since, Flaps: s.flaps}
}

// Sessions returns every configured peer's session, by peer name.
func (s *Speaker) Sessions() []SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionState, 0, len(s.sessions))
	for _, p := range s.plan.Peers {
		if sess := s.sessions[p.Name]; sess != nil {
			out = append(out, sess.snapshot())
		}
	}
	return out
}

func (s *Speaker) sessionByAddrLocked(a netip.Addr) *session {
	for _, sess := range s.sessions {
		if sess.peer.Addr == a.Unmap().WithZone("") {
			return sess
		}
	}
	return nil
}

func (s *Speaker) established() int {
	n := 0
	for _, sess := range s.sessions {
		if sess.state == bgp.BGP_FSM_ESTABLISHED {
			n++
		}
	}
	return n
}

// backoffLocked takes a refusing peer down for an exponentially growing while, so a
// misconfigured session neither floods the router nor stops being retried.
func (s *Speaker) backoffLocked(sess *session) {
	if sess.retry != nil {
		return
	}
	d := s.cfg.BackoffMin << min(sess.failures, 16)
	d = min(d, s.cfg.BackoffMax)
	sess.failures++
	addr := sess.peer.Addr.String()
	ctx := context.Background()
	if err := s.srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: addr}); err != nil {
		s.log.Warn("BGP backoff: disable peer", "peer", sess.peer.Name, "err", err)
		return
	}
	s.log.Warn("BGP peer refused the session; retrying later", "peer", sess.peer.Name, "reason", sess.reason, "retry_in", d)
	sess.retry = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		sess.retry = nil
		if s.closed || s.sessions[sess.peer.Name] != sess {
			return
		}
		_ = s.srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: addr})
	})
}

// watchRefusals polls the sessions that are not established for NOTIFICATION messages.
// GoBGP checks the router's OPEN on its outgoing connection and, when the router's ASN is
// not spec.asn, sends a NOTIFICATION without any state change, so only its message
// counters show the refusal.
func (s *Speaker) watchRefusals(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.pollNotifications(ctx)
		}
	}
}

func (s *Speaker) pollNotifications(ctx context.Context) {
	counts := map[string]uint64{}
	_ = s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		m := p.GetState().GetMessages()
		counts[p.GetConf().GetNeighborAddress()] = m.GetSent().GetNotification() + m.GetReceived().GetNotification()
	})
	s.mu.Lock()
	var refused []SessionState
	for _, sess := range s.sessions {
		n, ok := counts[sess.peer.Addr.String()]
		if !ok || n <= sess.notes {
			continue
		}
		sess.notes = n
		if sess.state == bgp.BGP_FSM_ESTABLISHED {
			continue
		}
		sess.reason = "NOTIFICATION exchanged during the OPEN: the router's ASN is not spec.asn, or it does not accept spec.myASN"
		sess.refused = true
		s.backoffLocked(sess)
		refused = append(refused, sess.snapshot())
	}
	s.mu.Unlock()
	if len(refused) > 0 {
		s.kickSessions()
	}
}

// syncPeersLocked adds, replaces and deletes GoBGP neighbours to match the plan.
func (s *Speaker) syncPeersLocked(ctx context.Context) error {
	want := map[string]Peer{}
	for _, p := range s.plan.Peers {
		want[p.Name] = p
	}
	var errs []error
	for name, sess := range s.sessions {
		if p, ok := want[name]; ok && p == sess.peer {
			continue
		}
		errs = append(errs, s.deletePeerLocked(ctx, name, sess))
	}
	for _, p := range s.plan.Peers {
		if _, ok := s.sessions[p.Name]; ok {
			continue
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.neighbor(p)}); err != nil {
			errs = append(errs, fmt.Errorf("BGPPeer %s: add neighbour %s: %w", p.Name, p.Addr, err))
			continue
		}
		s.sessions[p.Name] = newSession(p)
	}
	return errors.Join(errs...)
}

func (s *Speaker) deletePeerLocked(ctx context.Context, name string, sess *session) error {
	if sess.retry != nil {
		sess.retry.Stop()
	}
	delete(s.sessions, name)
	if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: sess.peer.Addr.String()}); err != nil {
		return fmt.Errorf("BGPPeer %s: delete neighbour %s: %w", name, sess.peer.Addr, err)
	}
	return nil
}

// neighbor is GoBGP's configuration of p: one unicast family (the peer's own), no
// graceful restart (docs/bgp.md says why), our timers.
func (s *Speaker) neighbor(p Peer) *api.Peer {
	afi := api.Family_AFI_IP6
	if p.Addr.Is4() {
		afi = api.Family_AFI_IP
	}
	n := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Addr.String(), PeerAsn: p.ASN, LocalAsn: p.MyASN,
			AuthPassword: p.Password, Description: p.Name},
		Timers: &api.Timers{Config: &api.TimersConfig{HoldTime: secs(p.Hold), KeepaliveInterval: secs(p.Keepalive),
			ConnectRetry: secs(s.cfg.ConnectRetry), IdleHoldTimeAfterReset: 1}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Enabled: true,
			Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}}}},
	}
	if p.Source.IsValid() {
		n.Transport.LocalAddress = p.Source.String()
	}
	if p.MultiHop {
		n.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	return n
}

func secs(d time.Duration) uint64 { return uint64(max(d.Round(time.Second)/time.Second, 1)) }
