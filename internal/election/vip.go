package election

import (
	"net/netip"
	"time"
)

// vip is the ownership and data-plane state of one VIP.
type vip struct {
	ip   netip.Addr
	want Want
	told bool // a WantChanged arrived

	view     Record // newest knowledge of the VIP's record, from any source
	known    bool
	viewSeq  uint64    // n.seq when the view's version was learned
	since    time.Time // core time the view's version (Exists, RV) was first seen
	releaser string    // who held the view before it was seen released, if we saw that
	mine     bool      // our last write produced the view (a release we may follow with a delete)

	// unsure: a release of ours conditioned on unsureRV may still land, so a view of that
	// version naming us proves nothing; only a newer version (or our own CAS) settles it.
	unsure   bool
	unsureRV string
	deadRV   string    // a Conflict proved this version superseded: wait for the informer
	deadAt   time.Time // when
	needRead bool      // a write's outcome is unknown
	ambBase  string    // the version that write was conditioned on
	inflight uint64    // the read or write in flight (0: none)
	fails    int
	failedAs ErrClass  // the class of the last failure: another class ramps afresh
	notAfter time.Time // no attempt before this (backoff)

	plane        planeState
	blockedUntil time.Time // the data plane refused the VIP: not a candidate here until then
	refusals     int
	stopTried    bool // a release was tried while stopping
}

func (n *Node) vipOf(ip netip.Addr) *vip {
	v := n.vips[ip]
	if v == nil {
		v = &vip{ip: ip}
		n.vips[ip] = v
	}
	return v
}

// names reports whether the record names this node, and whether with our incarnation.
func (n *Node) names(r Record) (node, mine bool) {
	node = r.Exists && r.Holder == n.cfg.Identity
	return node, node && r.Incarnation == n.self.inc
}

// owned reports whether the VIP's record names our current incarnation, as far as we can
// be sure: not while a release of ours may still land on it, and not once a Conflict or an
// unknown outcome made the view doubtful.
func (n *Node) owned(v *vip) bool {
	_, mine := n.names(v.view)
	return v.known && mine && !v.unsure && !v.needRead && v.view.RV != v.deadRV
}

// seeVIP records rec as the newest knowledge of v.
func (n *Node) seeVIP(t time.Time, v *vip, rec Record) {
	if !v.known || rec.Exists != v.view.Exists || rec.RV != v.view.RV {
		v.since, v.viewSeq, v.mine = t, n.seq, false
		if v.unsure && (!rec.Exists || rec.RV != v.unsureRV) {
			v.unsure = false
		}
		if v.needRead && versionOf(rec) != v.ambBase {
			v.needRead = false // a write of ours on ambBase can no longer land, or this is it
		}
		if v.deadRV != "" && rec.RV != v.deadRV && !(v.deadRV == "absent" && !rec.Exists) {
			v.deadRV = ""
		}
	}
	switch {
	case rec.Exists && rec.Holder == "" && v.view.Exists && v.view.Holder != "":
		v.releaser = v.view.Holder
	case rec.Holder != "":
		v.releaser = ""
	}
	n.indexHolder(v.ip, v.view.Holder, rec.Holder)
	v.view, v.known = rec, true
	n.sched.markVIP(v.ip)
}

// observeVIP takes in an informer record. The shell delivers no record older than one it
// delivered before, so a record naming someone else after ours is newer than ours.
// State is kept for every VIP observed; the shell says which nobody wants (WantChanged
// with Wanted false), and such state is dropped once nothing of it is ours.
func (n *Node) observeVIP(t time.Time, ip netip.Addr, rec Record) {
	n.seeVIP(t, n.vipOf(ip), rec)
}

// onVIPResult handles the answer to a read or write of a VIP's record.
func (n *Node) onVIPResult(t time.Time, a *attempt, r result) {
	v := n.vips[a.ref.VIP]
	if v == nil {
		return
	}
	v.inflight = 0
	n.sched.markVIP(v.ip)
	rec, class := r.rec, r.class
	if !a.write {
		n.onVIPRead(t, v, r)
		return
	}
	switch class {
	case ClassNone:
		v.fails, v.notAfter, v.needRead = 0, time.Time{}, false
		if r.stale {
			return // it landed, and a newer version is known already
		}
		if a.op == OpDelete {
			rec = Record{}
		}
		n.seeVIP(t, v, rec)
		v.mine = true
	case ClassConflict:
		v.deadRV, v.deadAt = a.base.RV, t // the record moved on: the informer brings it
		if a.op == OpCreate {
			v.deadRV = "absent"
		}
	case ClassNotFound:
		if a.op == OpCreate {
			n.vipFailed(t, v, ClassPermanent) // the namespace is missing
			return
		}
		n.seeVIP(t, v, Record{})
	case ClassTransient:
		v.needRead, v.ambBase = true, versionOf(a.base) // it may have landed
		n.vipFailed(t, v, ClassTransient)
	default:
		n.vipFailed(t, v, ClassPermanent)
	}
}

func (n *Node) onVIPRead(t time.Time, v *vip, r result) {
	rec, class := r.rec, r.class
	switch class {
	case ClassNone, ClassNotFound:
		if class == ClassNotFound {
			rec = Record{}
		}
		if r.stale {
			v.needRead, v.fails, v.notAfter = false, 0, time.Time{} // the newer version settled it
			return
		}
		if rec.Exists && rec.RV == v.deadRV {
			n.vipFailed(t, v, ClassTransient) // a read behind the write that conflicted
			return
		}
		v.needRead, v.fails, v.notAfter = false, 0, time.Time{}
		n.seeVIP(t, v, rec)
	case ClassPermanent:
		n.vipFailed(t, v, ClassPermanent)
	default:
		n.vipFailed(t, v, ClassTransient)
	}
}

// vipFailed backs off the VIP's next request. Ownership writes are never urgent for
// safety, so they back off up to LeaseDuration: a slow API server is not flooded.
// As for the presence, a failure of another class than the last restarts the ramp.
func (n *Node) vipFailed(t time.Time, v *vip, class ErrClass) {
	if class != v.failedAs {
		v.fails, v.failedAs = 0, class
	}
	v.fails++
	v.notAfter = t.Add(n.backoff(v.fails, ClassPermanent))
	n.sched.markVIP(v.ip)
}

// onWant takes in what the Services want of one VIP.
func (n *Node) onWant(ev WantChanged) {
	v := n.vipOf(ev.VIP)
	v.want, v.told = ev.Want, true
	v.want.Rank = max(v.want.Rank, 0)
	n.sched.markVIP(ev.VIP)
	if v.known && v.view.Holder != "" && v.view.Holder != n.cfg.Identity {
		n.sched.markPeer(v.view.Holder)
	}
}

// wantsLead reports whether this node should hold v now.
func (n *Node) wantsLead(v *vip, t time.Time) bool {
	return v.told && v.want.Wanted && v.want.Eligible && !n.stopping && !t.Before(v.blockedUntil)
}

// effRank is v's rank among the candidates that are live in our view: candidates ranked
// ahead whose presence has lapsed, or who released the record, do not count.
func (n *Node) effRank(v *vip, t time.Time) int { return n.effRankWithout(v, t, "") }

// effRankWithout is effRank not counting the candidate except (the holder being revoked).
func (n *Node) effRankWithout(v *vip, t time.Time, except string) int {
	r := 0
	for _, c := range v.want.Ahead {
		if c == except || (c == v.releaser && v.view.Exists && v.view.Holder == "") {
			continue
		}
		if n.peerLive(c, t) {
			r++
		}
	}
	if len(v.want.Ahead) == 0 {
		r = v.want.Rank // the shell gave a rank without names: trust it
	}
	return r
}

// forgettable reports whether v's state can be dropped: nobody wants it, it is not ours,
// and nothing of it is in flight or on the node.
func (n *Node) forgettable(v *vip) bool {
	node, _ := n.names(v.view)
	owedDelete := v.mine && v.view.Exists && v.view.Holder == ""
	return v.told && !v.want.Wanted && !node && !owedDelete && v.inflight == 0 && !v.plane.mayBeUp && !v.plane.busy
}

func (n *Node) forget(v *vip) {
	n.indexHolder(v.ip, v.view.Holder, "")
	delete(n.vips, v.ip)
	n.sched.wakeVIP(v.ip, time.Time{})
}

// versionOf names a record's version for equality: its RV, or "absent".
func versionOf(r Record) string {
	if !r.Exists {
		return "absent"
	}
	return r.RV
}
