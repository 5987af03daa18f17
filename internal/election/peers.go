package election

import (
	"net/netip"
	"slices"
	"time"
)

// peer is what this node knows of another node's presence record.
type peer struct {
	name  string
	view  Record
	known bool
	since time.Time // core time the view's version (Exists, RV) was first seen
	// revoked lists incarnations of the peer seen revoked, from any source. That an
	// incarnation was revoked is a fact that never goes stale.
	revoked []revokedInc
	// auth is the newest answer of the API server itself about the record, and authSeq
	// the node's event count when that request was issued: it is at least as new as
	// anything this node learned before authSeq.
	auth    Record
	authSeq uint64
	authAt  time.Time // core time that request was issued
	hasAuth bool
	deadRV  string    // a Conflict proved this version superseded (wait for the informer)
	deadAt  time.Time //
	busy    uint64    // revoke or read in flight (0: none)
	// ackInc is the peer's incarnation that acknowledged ours (ride-through rule 5), first
	// at ackAt; a wait on its record that began at or after ackAt lasts LD.
	ackInc string
	ackAt  time.Time
	// vouchedAt is when we last attested to the peer that we were blind: a wait on its
	// record starts again from there (ride-through rule 2).
	vouchedAt time.Time
	fails     int
	notAft    time.Time
}

type revokedInc struct {
	inc string
	at  time.Time // core time this node learned it
}

// maxRevoked bounds the revoked incarnations remembered per peer.
const maxRevoked = 8

func (n *Node) peerOf(name string, t time.Time) *peer {
	p := n.peers[name]
	if p == nil {
		// Never seen: as far as we know it has no record, since now.
		p = &peer{name: name, known: true, since: t}
		n.peers[name] = p
	}
	return p
}

// seePeer takes in a record of the peer's presence. The wait restarts whenever the version
// changes: versions are compared for equality only.
func (n *Node) seePeer(t time.Time, p *peer, rec Record) {
	if rec.Incarnation != p.view.Incarnation || rec.Exists != p.view.Exists || rec.revoked() != p.view.revoked() {
		n.rd.ackDirty = true // a member to acknowledge, or one less
	}
	if !p.known || rec.Exists != p.view.Exists || rec.RV != p.view.RV {
		p.since = t
		n.sched.markPeer(p.name)
		n.markHeldBy(p.name)
	}
	p.view, p.known = rec, true
	if rec.revoked() {
		n.noteRevoked(t, p, rec.Incarnation)
	}
}

// noteRevoked remembers that the peer's incarnation inc ended.
func (n *Node) noteRevoked(t time.Time, p *peer, inc string) {
	if inc == "" || p.isRevoked(inc) {
		return
	}
	if len(p.revoked) == maxRevoked {
		p.revoked = slices.Delete(p.revoked, 0, 1)
	}
	p.revoked = append(p.revoked, revokedInc{inc: inc, at: t})
	n.markHeldBy(p.name)
}

func (p *peer) isRevoked(inc string) bool {
	return slices.ContainsFunc(p.revoked, func(r revokedInc) bool { return r.inc == inc })
}

func (p *peer) revokedAt(inc string) (time.Time, bool) {
	for _, r := range p.revoked {
		if r.inc == inc {
			return r.at, true
		}
	}
	return time.Time{}, false
}

// peerLive reports whether a candidate may still take its rank's turn in our view: unless
// its presence was revoked or stood still (or absent) for LeaseDuration. A peer we have not
// heard of yet may be starting. Only rank and spread depend on it, never safety.
func (n *Node) peerLive(name string, t time.Time) bool {
	if name == n.cfg.Identity {
		return n.self.live(t) && !n.stopping
	}
	p := n.peerOf(name, t)
	return !p.view.revoked() && t.Before(n.expiresAt(p))
}

// expiresAt is when a peer's current record, unchanged, may be revoked: LD after its
// version was first seen, and with the ride-through after our last attestation to it, and
// LD + X unless the peer acknowledged us before the wait began (waitFor).
func (n *Node) expiresAt(p *peer) time.Time { return n.waitStart(p).Add(n.waitFor(p)) }

// absentUntil is when an absent presence record proves its holder's incarnations over: LD
// after the authoritative answer that found it absent was asked for (and after the absence
// was first seen). Not LD after an earlier sighting of absence: the record may have been
// created by a new incarnation and deleted again meanwhile, unseen (an absent record has no
// version to compare), and that incarnation's renewals may have landed until its deletion.
// With the ride-through the absence must last LD + X (finding 10): a rider cannot see its
// record deleted and keeps riding on its members' word.
func (n *Node) absentUntil(p *peer) time.Time {
	wait := n.cfg.LeaseDuration
	if n.rideOn() {
		wait = n.cfg.UnackedWait()
	}
	return later(p.since, p.authAt).Add(wait)
}

func (n *Node) markHeldBy(name string) {
	for ip := range n.byHolder[name] {
		n.sched.markVIP(ip)
	}
}

// holderDead reports whether the incarnation named by v's record is over, and since when
// (core time, for the spread). Evidence: a presence record of the holder revoked with that
// very incarnation (from any source); or an answer of the API server, asked after v's
// record was learned, showing the holder's presence revoked, or absent (then dead LD after
// that request was issued: absentUntil).
// An incarnation claims VIPs only after its registration landed, so such an answer saw
// every incarnation that could have written v's record either revoked or superseded.
func (n *Node) holderDead(v *vip, t time.Time) (time.Time, bool) {
	p := n.peers[v.view.Holder]
	if p == nil {
		return time.Time{}, false
	}
	if at, ok := p.revokedAt(v.view.Incarnation); ok {
		return at, true
	}
	if !p.hasAuth || p.authSeq <= v.viewSeq {
		return time.Time{}, false
	}
	switch {
	case p.auth.revoked():
		return p.since, true
	case !p.auth.Exists && !p.view.Exists && !t.Before(n.absentUntil(p)):
		return n.absentUntil(p), true
	}
	return time.Time{}, false
}

// planPeer decides what this node does about one peer on behalf of the VIPs it holds that
// we would take over: revoke its presence once it stood still for LeaseDuration, or ask the
// API server about it when only an authoritative answer can prove its VIPs free.
func (n *Node) planPeer(t time.Time, p *peer, out []Action) []Action {
	if n.absenceLapsed(p, t) {
		n.markHeldBy(p.name) // its VIPs' holder is over now (holderDead): plan them
	}
	rank, seq, ok := n.interest(p, t)
	if !ok && n.rideOn() {
		rank, ok = n.collectRank(p, t)
	}
	if !ok || p.busy != 0 || n.stopping {
		return out
	}
	if t.Before(p.notAft) {
		n.sched.wakePeer(p.name, p.notAft)
		return out
	}
	if p.deadRV != "" && p.view.RV == p.deadRV {
		if fb := p.deadAt.Add(n.readFallback()); t.Before(fb) {
			n.sched.wakePeer(p.name, fb)
			return out
		}
		return n.issueRead(t, NodeRef(p.name), out)
	}
	switch {
	case p.view.revoked(), !p.view.Exists:
		if p.hasAuth && p.authSeq > seq && (p.auth.revoked() || !p.auth.Exists) {
			if !p.view.Exists && t.Before(n.absentUntil(p)) {
				n.sched.wakePeer(p.name, n.absentUntil(p))
			}
			return out // the answer we have covers every VIP (see holderDead)
		}
		return n.issueRead(t, NodeRef(p.name), out)
	}
	at := n.expiresAt(p).Add(time.Duration(rank) * n.cfg.SpreadDelay)
	if t.Before(at) {
		n.sched.wakePeer(p.name, at)
		return out
	}
	if n.rideOn() && !n.sighted(t) {
		return out // revoke only while sighted (finding 3); regaining sight marks every peer
	}
	return n.issueRevoke(t, p, out)
}

// interest is, over the VIPs the peer's records hold that we would take, our best
// effective rank and the newest event count at which one of their views was learned.
func (n *Node) interest(p *peer, t time.Time) (rank int, seq uint64, ok bool) {
	rank = -1
	for ip := range n.byHolder[p.name] {
		v := n.vips[ip]
		if v == nil || !n.wantsLead(v, t) || !n.self.registered {
			continue
		}
		if _, dead := n.holderDead(v, t); dead {
			continue
		}
		if r := n.effRankWithout(v, t, p.name); rank < 0 || r < rank {
			rank = r
		}
		seq = max(seq, v.viewSeq)
	}
	return rank, seq, rank >= 0
}

// readFallback is how long a node waits for the informer to deliver the record that a
// Conflict announced before it reads it itself.
func (n *Node) readFallback() time.Duration { return 2 * n.cfg.RetryPeriod }

func (n *Node) issueRevoke(t time.Time, p *peer, out []Action) []Action {
	a := n.newAttempt(t, NodeRef(p.name), true, OpRevoke, p.view)
	p.busy = a.id
	return append(out, Write{ID: a.id, Ref: a.ref, Op: OpRevoke, Base: a.base, Incarnation: n.self.inc,
		Reason: "presence not renewed for " + n.cfg.LeaseDuration.String(), Timeout: n.attemptTimeout()})
}

// onPeerResult handles the answer to a revoke or read of a peer's presence record.
func (n *Node) onPeerResult(t time.Time, a *attempt, r result) {
	p := n.peerOf(a.ref.Node, t)
	p.busy = 0
	rec := r.rec
	switch r.class {
	case ClassNone, ClassNotFound:
		if r.class == ClassNotFound {
			rec = Record{}
		}
		p.fails, p.notAft, p.deadRV = 0, time.Time{}, ""
		if r.stale {
			if a.op == OpRevoke {
				n.noteRevoked(t, p, a.base.Incarnation) // our revocation landed; a newer version followed
			}
			break
		}
		n.seePeer(t, p, rec)
		if a.seq > p.authSeq || !p.hasAuth {
			p.auth, p.authSeq, p.authAt, p.hasAuth = rec, a.seq, a.emit, true
			n.markHeldBy(p.name)
		}
	case ClassConflict:
		p.deadRV, p.deadAt = a.base.RV, t // the peer renewed: its new version is on its way
		if a.write && a.op == OpRevoke && p.view.RV != a.base.RV {
			p.deadRV = "" // the informer brought it already
		}
	default:
		p.fails++
		p.notAft = t.Add(n.backoff(p.fails, ClassPermanent))
	}
	n.sched.markPeer(p.name)
}

// absenceLapsed reports whether an authoritative answer found the peer's record absent
// and absentUntil has come: the VIPs it held may be taken (the wake set below was for it).
func (n *Node) absenceLapsed(p *peer, t time.Time) bool {
	return p.hasAuth && !p.auth.Exists && !p.view.Exists && !t.Before(n.absentUntil(p))
}

// forgetVIPHolder and indexHolder keep byHolder in step with the VIP views.
func (n *Node) indexHolder(ip netip.Addr, old, cur string) {
	if old == cur {
		return
	}
	if old != "" {
		delete(n.byHolder[old], ip)
		if len(n.byHolder[old]) == 0 {
			delete(n.byHolder, old)
		}
	}
	if cur != "" {
		if n.byHolder[cur] == nil {
			n.byHolder[cur] = map[netip.Addr]struct{}{}
		}
		n.byHolder[cur][ip] = struct{}{}
		if cur != n.cfg.Identity {
			n.sched.markPeer(cur)
		}
	}
}
