package daemon

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/peer"
)

// PeerChannel carries the ride-through's messages between daemons (peer.Channel): the
// core decides what to say and to whom; the channel authenticates and delivers.
type PeerChannel interface {
	Send(to netip.AddrPort, m peer.Message) error
	Run(ctx context.Context, deliver func(m peer.Message, from netip.AddrPort)) error
}

// runPeers receives peer messages into the loop's inbox until ctx ends.
func (d *Daemon) runPeers(ctx context.Context) {
	if d.cfg.Peers == nil {
		return
	}
	go func() {
		if err := d.cfg.Peers.Run(ctx, d.deliver); err != nil && ctx.Err() == nil {
			d.log.Error("peer channel stopped: no ride-through until restart", "err", err)
		}
	}()
}

// deliver hands an authenticated peer message to the loop.
func (d *Daemon) deliver(m peer.Message, _ netip.AddrPort) {
	k, ok := toMsgKind(m.Kind)
	if !ok || m.From == "" {
		return
	}
	d.post(input{peer: &election.Received{From: m.From,
		Msg: election.PeerMsg{Kind: k, Inc: m.FromInc, ToInc: m.ToInc, Seq: m.Seq, Token: m.Token}}})
}

var msgKinds = map[peer.Kind]election.MsgKind{
	peer.KindQuery: election.MsgQuery, peer.KindVouch: election.MsgVouch, peer.KindAck: election.MsgAck,
	peer.KindRelayAsk: election.MsgRelayAsk, peer.KindRelayDone: election.MsgRelayDone,
}

func toMsgKind(k peer.Kind) (election.MsgKind, bool) { mk, ok := msgKinds[k]; return mk, ok }

func toPeerKind(k election.MsgKind) peer.Kind {
	for pk, mk := range msgKinds {
		if mk == k {
			return pk
		}
	}
	return 0
}

// sendPeer sends one of the core's messages to the address the addressee publishes on its
// presence Lease. Loss is the core's to tolerate: a missing attestation ends a ride.
func (sh *shell) sendPeer(a election.Send) {
	if sh.d.cfg.Peers == nil {
		return
	}
	rec, _ := sh.d.cfg.Source.Cached(election.NodeRef(a.To))
	to, err := netip.ParseAddrPort(rec.PeerAddr)
	if err != nil {
		sh.d.m.rideUnaddressable.Inc()
		sh.d.log.Debug("peer has no peer address on its presence Lease", "node", a.To, "err", err)
		return
	}
	m := peer.Message{Kind: toPeerKind(a.Msg.Kind), From: sh.d.cfg.Election.Identity, FromInc: a.Msg.Inc,
		To: a.To, ToInc: a.Msg.ToInc, Seq: a.Msg.Seq, Token: a.Msg.Token}
	if err := sh.d.cfg.Peers.Send(to, m); err != nil {
		sh.d.log.Debug("peer message not sent", "node", a.To, "err", err)
	}
}

// rideReport turns the core's ride-through state into metrics, a log line and Events on
// every held VIP's Services when a ride starts or ends.
func (sh *shell) rideReport() {
	st := sh.d.core.RideStatus()
	if !st.On {
		return
	}
	sh.d.m.rideCounters(st)
	was := sh.ride
	sh.ride = st
	switch {
	case st.Riding && !was.Riding:
		sh.rideStarted(st)
	case !st.Riding && was.Riding:
		sh.rideStopped(st)
	case st.Riding && !slices.Equal(st.Members, was.Members):
		sh.d.m.setRideMembers(st.Members)
	}
	if st.Riding {
		sh.d.m.rideUntil.Set(float64(st.Until.UnixMilli()) / 1000)
	}
}

func (sh *shell) rideStarted(st election.RideStatus) {
	sh.rideVIPs = sh.rideVIPs[:0]
	for ip := range sh.installed {
		sh.rideVIPs = append(sh.rideVIPs, ip)
	}
	sh.d.m.riding.Set(1)
	sh.d.m.setRideMembers(st.Members)
	msg := "node " + sh.d.cfg.Election.Identity + " cannot renew its presence and keeps announcing past its renew deadline on the attestations of " +
		orNone(st.Members) + " that they cannot reach the API either"
	sh.d.log.Warn("riding through: announcing on peers' attestations", "members", strings.Join(st.Members, ","),
		"until", time.Until(st.Until).Round(time.Millisecond))
	sh.rideEvent(ReasonRidingThrough, msg)
}

func (sh *shell) rideStopped(st election.RideStatus) {
	sh.d.m.riding.Set(0)
	sh.d.m.setRideMembers(nil)
	why, kind := "a renewal of its presence landed, or it holds no VIP any more", "renewed"
	if st.Ends > sh.rideEnds {
		why, kind = st.Ended, endKind(st.Ended)
	}
	sh.rideEnds = st.Ends
	sh.d.m.rideEnds.WithLabelValues(kind).Inc()
	sh.d.log.Info("ride-through ended", "why", why)
	sh.rideEvent(ReasonRideEnded, "node "+sh.d.cfg.Election.Identity+" stopped riding through: "+why)
}

// endKind is a fixed metric label for the core's reason.
func endKind(s string) string {
	switch {
	case strings.Contains(s, "cap"):
		return "cap"
	case strings.HasPrefix(s, "no attestation"):
		return "unanswered"
	}
	return "other"
}

// maxRideEvents bounds the VIPs whose Services hear of one ride's start and end: a node
// holding thousands of VIPs during an outage must not queue thousands of Events for an API
// server that is not there. The log line and the metrics cover every VIP.
const maxRideEvents = 16

// rideEvent reports on the Services of the VIPs held when the ride started.
func (sh *shell) rideEvent(reason, msg string) {
	ips := slices.SortedFunc(slices.Values(sh.rideVIPs), netip.Addr.Compare)
	for _, ip := range ips[:min(len(ips), maxRideEvents)] {
		sh.d.notifier().Problem(ip, sh.wants[ip].Services, reason, msg)
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no member (this node knows no other)"
	}
	return strings.Join(s, ", ")
}
