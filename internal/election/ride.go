package election

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The ride-through (issue 11; checked in internal/model/ride.pml, mapped in
// docs/ride-through-model.md). A holder whose renewals fail keeps its addresses up past
// its fence while every member it knows attests that it cannot see the API either, since a
// blind node cannot revoke; it asks a peer that sees the API to renew its presence for it;
// and a node it has not acknowledged waits LD + X. These rules only move the deadline that
// fences every held VIP; they never touch a VIP's record.

// rideState is the holder's side: its members, rounds and relays.
type rideState struct {
	acked map[string]ackedMember // members we acknowledged in this incarnation, by name

	seq       uint64
	roundAt   time.Time         // emission of the newest round's queries (zero: none yet)
	rounds    map[uint64]*round // the rounds awaiting attestations, by sequence number
	grantedBy []string          // members whose attestations granted the standing ride

	lastRelay time.Time
	relayer   string // the peer whose relay landed last: asked first
	relayTurn int
	relaying  map[uint64]relayFor // relay writes in flight for peers, by attempt ID

	ackDirty bool      // a peer's incarnation changed: acknowledge at once
	ackDue   time.Time // the next re-send of an acknowledgement

	wake  time.Time
	ended string
	stats RideStatus
}

// round is one query to every member. Rounds overlap: each grants on its own what the
// model's single round grants (every member vouched after at), so a late answer to an
// earlier round still counts.
type round struct {
	at      time.Time
	members []string
	pending map[string]bool
}

// maxRounds bounds the rounds awaiting attestations.
const maxRounds = 4

type ackedMember struct {
	inc string    // the member's incarnation we acknowledged
	at  time.Time // when we last sent it
}

type relayFor struct{ holder, inc, token string }

// ackEvery re-sends acknowledgements (they travel best effort).
const ackEvery = 30 * time.Second

// maxRelays bounds the relayed renewals in flight for peers.
const maxRelays = 4

func newRideState() rideState {
	return rideState{acked: map[string]ackedMember{}, rounds: map[uint64]*round{},
		relaying: map[uint64]relayFor{}}
}

func (n *Node) rideOn() bool { return n.cfg.Ride.On() }

// sighted reports whether our own renewal (not a relayed one) landed within Sight (the
// issue's "renew succeeded within the last δ", by when we learned it), and was emitted less
// than RenewDeadline ago: a node is never sighted once its incarnation may have been
// revoked, which comes LD after that emission at the earliest, so a revoked node that has
// not heard of it yet cannot revoke (a holder stops asking a revoked member, see members).
func (n *Node) sighted(t time.Time) bool {
	p := &n.self
	return p.registered && !p.ownLand.IsZero() && t.Before(p.ownLand.Add(n.cfg.Ride.Sight)) &&
		t.Before(p.ownEmit.Add(n.cfg.RenewDeadline))
}

// see notes that an own write emitted at emit landed (we learned it at t). Regaining sight
// lets every peer's wait that ran out while we were blind end in a revocation now.
func (n *Node) see(t, emit time.Time) {
	was := n.sighted(t)
	n.self.ownLand, n.self.ownEmit = t, later(n.self.ownEmit, emit)
	if n.rideOn() && !was && n.sighted(t) {
		for name := range n.peers {
			n.sched.markPeer(name)
		}
	}
}

// waitStart is when a wait on p's current record began: its version's first sighting or,
// with the ride-through, the last attestation we gave p, whichever is later. A ride of p's
// that our attestation helped grant ends within DP of its round, which began before our
// attestation; a ride we did not attest needs us (if p acknowledged us) or is capped (if
// not). This is the model's rule 2 with the restart at the attestation instead of at the
// regain of sight, which comes after it (docs/ride-through-model.md, "As built").
func (n *Node) waitStart(p *peer) time.Time {
	if !n.rideOn() {
		return p.since
	}
	return later(p.since, p.vouchedAt)
}

// waitFor is the wait on p's record: LD, or the unacknowledged wait unless p acknowledged
// us, for its current incarnation, before the wait began (finding 2).
func (n *Node) waitFor(p *peer) time.Duration {
	if !n.rideOn() || n.ackedBy(p) {
		return n.cfg.LeaseDuration
	}
	return n.cfg.UnackedWait()
}

func (n *Node) ackedBy(p *peer) bool {
	return p.ackInc != "" && p.ackInc == p.view.Incarnation && !p.ackAt.After(n.waitStart(p))
}

// noteAck records that holder from (incarnation inc) acknowledged our incarnation toInc.
// The first acknowledgement of an incarnation counts: it is the earliest.
func (n *Node) noteAck(t time.Time, from, inc, toInc string) {
	if toInc != n.self.inc || inc == "" || from == n.cfg.Identity {
		return
	}
	p := n.peerOf(from, t)
	if p.ackInc != inc {
		p.ackInc, p.ackAt = inc, t
		n.sched.markPeer(from)
	}
}

// forgetAcks drops the acknowledgements of our incarnation, which ended, and our own.
func (n *Node) forgetAcks() {
	for _, p := range n.peers {
		p.ackInc, p.ackAt = "", time.Time{}
	}
	clear(n.rd.acked)
	clear(n.rd.rounds)
	n.rd.grantedBy = nil
}

// members are the nodes a holder must ask: every peer whose presence shows a live
// incarnation, and every node it acknowledged, until that node's incarnation has been seen
// revoked for the unacknowledged wait. The delay outlasts any revocation the member issued
// before it was revoked and that may still land: a member is sighted, and so revokes, only
// before its own revocation (sighted), and kube-apiserver ends every request within its
// request timeout (60 s), far below LD + X. A dead member would otherwise end every ride.
func (n *Node) members(t time.Time) []string {
	set := map[string]bool{}
	for name, p := range n.peers {
		if name != n.cfg.Identity && p.view.Exists && !p.view.revoked() {
			set[name] = true
		}
	}
	for name, m := range n.rd.acked {
		p := n.peers[name]
		at, gone := time.Time{}, false
		if p != nil {
			at, gone = p.revokedAt(m.inc)
		}
		if !gone || t.Before(at.Add(n.cfg.UnackedWait())) {
			set[name] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// planRide acknowledges members and, while a holder's renewals fail, queries its members
// and asks one of them to relay.
func (n *Node) planRide(t time.Time, out []Action) []Action {
	n.rd.wake = time.Time{}
	if !n.rideOn() || n.stopping || !n.self.registered {
		return out
	}
	out = n.planAcks(t, out)
	if len(n.byHolder[n.cfg.Identity]) == 0 {
		return out // we hold no VIP: nothing to ride for
	}
	stale := n.self.lastCredit.Add(n.cfg.Ride.Sight) // when members renewing alike go blind
	if t.Before(stale) {
		n.rideWake(stale)
		return out
	}
	if len(n.active) > 0 && n.self.live(t) {
		out = n.planRound(t, out) // only without a break (finding 1)
	}
	return n.planRelay(t, out) // a landed relay restarts a holder whose deadline lapsed
}

func (n *Node) rideWake(at time.Time) { n.rd.wake = earliest(n.rd.wake, at) }

// planAcks tells every member with a live incarnation that we know it (rule 5): at once
// when a peer's incarnation changed, and again every ackEvery. It looks at the peers only
// then, not on every Step.
func (n *Node) planAcks(t time.Time, out []Action) []Action {
	if !n.rd.ackDirty && !n.rd.ackDue.IsZero() && t.Before(n.rd.ackDue) {
		n.rideWake(n.rd.ackDue)
		return out
	}
	n.rd.ackDirty, n.rd.ackDue = false, time.Time{}
	for _, name := range slices.Sorted(maps.Keys(n.peers)) {
		p := n.peers[name]
		if name == n.cfg.Identity || !p.view.Exists || p.view.revoked() {
			continue
		}
		m, ok := n.rd.acked[name]
		if !ok || m.inc != p.view.Incarnation || !t.Before(m.at.Add(ackEvery)) {
			m = ackedMember{inc: p.view.Incarnation, at: t}
			n.rd.acked[name] = m
			out = append(out, n.msg(name, MsgAck, p.view.Incarnation, 0, ""))
		}
		n.rd.ackDue = earliest(n.rd.ackDue, m.at.Add(ackEvery))
	}
	if !n.rd.ackDue.IsZero() {
		n.rideWake(n.rd.ackDue)
	}
	return out
}

func (n *Node) msg(to string, k MsgKind, toInc string, seq uint64, token string) Send {
	return Send{To: to, Msg: PeerMsg{Kind: k, Inc: n.self.inc, ToInc: toInc, Seq: seq, Token: token}}
}

// roundEvery is the spacing of rounds: RetryPeriod/4 until a ride stands, since members go
// blind at different times and a round counts only if its last answer comes while the
// deadline stands (finding 1); RetryPeriod once riding, which leaves RenewDeadline -
// RetryPeriod for the next round to complete. A round costs one message per member.
func (n *Node) roundEvery() time.Duration {
	if p := &n.self; p.ride.After(p.fence) && p.ride.After(n.clk.last) {
		return n.cfg.RetryPeriod
	}
	return n.cfg.RetryPeriod / 4
}

// planRound starts a round of queries every roundEvery.
func (n *Node) planRound(t time.Time, out []Action) []Action {
	if next := n.rd.roundAt.Add(n.roundEvery()); !n.rd.roundAt.IsZero() && t.Before(next) {
		n.rideWake(next)
		return out
	}
	n.rd.seq++
	r := &round{at: t, members: n.members(t), pending: map[string]bool{}}
	n.rd.roundAt, n.rd.rounds[n.rd.seq] = t, r
	delete(n.rd.rounds, n.rd.seq-maxRounds)
	n.rd.stats.Rounds++
	for _, name := range r.members {
		r.pending[name] = true
		out = append(out, n.msg(name, MsgQuery, n.memberInc(name), n.rd.seq, ""))
	}
	n.rideWake(t.Add(n.roundEvery()))
	if len(r.pending) == 0 {
		n.roundComplete(t, n.rd.seq) // no member to ask: the cap and rule 5 bound the ride
	}
	return out
}

func (n *Node) memberInc(name string) string {
	if p := n.peers[name]; p != nil && p.view.Exists && !p.view.revoked() {
		return p.view.Incarnation
	}
	return n.rd.acked[name].inc
}

// roundComplete grants the ride if the deadline still stands (finding 1: an answer after a
// lapse must not restart announcing), capped at the fence + X (rule 5).
func (n *Node) roundComplete(t time.Time, seq uint64) {
	p := &n.self
	r := n.rd.rounds[seq]
	delete(n.rd.rounds, seq)
	if r == nil || !p.live(t) {
		return
	}
	until := minTime(r.at.Add(n.cfg.Ride.Window), p.fence.Add(n.cfg.Ride.Cap))
	if until.After(p.ride) {
		p.ride, n.rd.grantedBy = until, slices.Clone(r.members)
		n.rd.stats.Granted++
		n.markMine()
	}
}

// planRelay asks one member per RetryPeriod to renew our presence for us (rule 4): the
// peer whose relay landed last first, then the others in turn. The renewal counts from
// the ask (finding 5).
func (n *Node) planRelay(t time.Time, out []Action) []Action {
	if next := n.rd.lastRelay.Add(n.cfg.RetryPeriod); !n.rd.lastRelay.IsZero() && t.Before(next) {
		n.rideWake(next)
		return out
	}
	to := n.nextRelayer(t)
	if to == "" {
		return out
	}
	n.rd.lastRelay = t
	a := n.newID()
	w := pendingWrite{token: n.self.inc + "-" + strconv.FormatUint(a, 10), emit: t, era: n.era, relayed: true}
	n.self.rememberWrite(w)
	n.rideWake(t.Add(n.cfg.RetryPeriod))
	return append(out, n.msg(to, MsgRelayAsk, n.memberInc(to), 0, w.token))
}

func (n *Node) nextRelayer(t time.Time) string {
	ms := n.members(t)
	if len(ms) == 0 {
		return ""
	}
	if n.rd.relayer != "" && slices.Contains(ms, n.rd.relayer) && n.rd.relayTurn%2 == 0 {
		n.rd.relayTurn++
		return n.rd.relayer
	}
	n.rd.relayTurn++
	return ms[n.rd.relayTurn%len(ms)]
}

// onReceived handles a peer message.
func (n *Node) onReceived(t time.Time, ev Received, out []Action) []Action {
	if !n.rideOn() || ev.From == n.cfg.Identity || ev.From == "" {
		return out
	}
	m := ev.Msg
	switch m.Kind {
	case MsgAck:
		n.noteAck(t, ev.From, m.Inc, m.ToInc)
	case MsgQuery:
		n.noteAck(t, ev.From, m.Inc, m.ToInc) // a query acknowledges too
		if !n.sighted(t) {
			n.rd.stats.Vouched++
			p := n.peerOf(ev.From, t)
			p.vouchedAt = t // every wait on p starts again (rule 2)
			n.sched.markPeer(ev.From)
			out = append(out, n.msg(ev.From, MsgVouch, m.Inc, m.Seq, ""))
		}
	case MsgVouch:
		n.onVouch(t, ev.From, m)
	case MsgRelayAsk:
		out = n.relay(t, ev.From, m, out)
	case MsgRelayDone:
		if m.ToInc == n.self.inc {
			if w, ok := n.self.claimRelayed(m.Token); ok {
				n.rd.relayer = ev.From
				n.rd.stats.Relayed++
				n.credit(t, w)
			}
		}
	}
	return out
}

func (n *Node) onVouch(t time.Time, from string, m PeerMsg) {
	r := n.rd.rounds[m.Seq]
	if m.ToInc != n.self.inc || r == nil || !r.pending[from] {
		return
	}
	delete(r.pending, from)
	if len(r.pending) == 0 {
		n.roundComplete(t, m.Seq)
	}
}

// relay renews a peer's presence on its behalf while we see the API ourselves, holder and
// incarnation unchanged: the write's test operations apply it only to that incarnation.
func (n *Node) relay(t time.Time, holder string, m PeerMsg, out []Action) []Action {
	if !n.sighted(t) || n.stopping || len(n.rd.relaying) >= maxRelays || m.Inc == "" || m.Token == "" {
		return out
	}
	a := n.newAttempt(t, NodeRef(holder), true, OpRenew, Record{})
	a.inc, a.token = m.Inc, m.Token
	n.rd.relaying[a.id] = relayFor{holder: holder, inc: m.Inc, token: m.Token}
	return append(out, Write{ID: a.id, Ref: a.ref, Op: OpRenew, Incarnation: m.Inc, Token: m.Token,
		Reason: "relayed for " + holder + " by " + n.cfg.Identity, Timeout: n.renewTimeout()})
}

// onRelayResult tells the holder that its relayed renewal landed.
func (n *Node) onRelayResult(t time.Time, a *attempt, r result) {
	f, ok := n.rd.relaying[a.id]
	delete(n.rd.relaying, a.id)
	if !ok || r.class != ClassNone {
		return
	}
	if !r.stale {
		n.seePeer(t, n.peerOf(f.holder, t), r.rec)
	}
	n.outbox = append(n.outbox, n.msg(f.holder, MsgRelayDone, f.inc, 0, f.token))
}

// rideEnded records why a ride's deadline passed.
func (n *Node) rideEnded(t time.Time) {
	p := &n.self
	n.rd.stats.Ends++
	var missing []string
	if r := n.rd.rounds[n.rd.seq]; r != nil {
		missing = slices.Sorted(maps.Keys(r.pending))
	}
	switch {
	case !p.ride.Before(p.fence.Add(n.cfg.Ride.Cap)):
		n.rd.ended = "ride-through cap " + n.cfg.Ride.Cap.String() + " reached"
	case len(missing) > 0:
		n.rd.ended = "no attestation from " + strings.Join(missing, ", ")
	default:
		n.rd.ended = "no attestation round completed in time"
	}
}

// RideStatus reports the ride-through's state at the core's latest time.
func (n *Node) RideStatus() RideStatus {
	s := n.rd.stats
	s.On = n.rideOn()
	t := n.clk.last
	p := &n.self
	s.Riding = p.registered && p.ride.After(p.fence) && t.Before(p.ride) && len(n.active) > 0
	if s.Riding {
		s.Until, s.Members = n.clk.raw(p.ride), slices.Clone(n.rd.grantedBy)
	}
	s.Ended = n.rd.ended
	return s
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// collectRank lets one node revoke a member that holds no VIP of ours once its presence
// stood still for its wait plus LD: a dead member would otherwise end every ride (rule 3
// needs every member's attestation). The first live node by name does it; the others
// follow by rank if it does not.
func (n *Node) collectRank(p *peer, t time.Time) (int, bool) {
	if !p.view.Exists || p.view.revoked() || !n.self.registered {
		return 0, false
	}
	rank := 0
	for name := range n.peers {
		if name != p.name && name < n.cfg.Identity && n.peerLive(name, t) {
			rank++
		}
	}
	if at := n.expiresAt(p).Add(time.Duration(rank+1) * n.cfg.LeaseDuration); t.Before(at) {
		n.sched.wakePeer(p.name, at) // the next node by name only if the first did not
		return 0, false
	}
	return rank + 1, true
}

// claimRelayed is claim for a relayed write only: a peer's word proves only what we asked
// of it.
func (p *presence) claimRelayed(token string) (pendingWrite, bool) {
	i := slices.IndexFunc(p.pending, func(w pendingWrite) bool { return w.relayed && w.token == token })
	if token == "" || i < 0 {
		return pendingWrite{}, false
	}
	w := p.pending[i]
	p.pending = slices.Delete(p.pending, i, i+1)
	return w, true
}
