package daemon

import (
	"net/netip"
	"strings"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Event reasons the loop reports on the Services that use a VIP.
const (
	ProblemCannotAnnounce    = "CannotAnnounce"
	ProblemPermissionDenied  = "LeasePermissionDenied"
	ProblemNamespaceMissing  = "LeaseNamespaceMissing"
	ProblemPresenceForbidden = "PresencePermissionDenied"
	ReasonRidingThrough      = "RidingThrough"
	ReasonRideEnded          = "RideThroughEnded"
)

func (sh *shell) announced(ip netip.Addr, until time.Time) {
	w := sh.wants[ip]
	sh.d.m.setAnnounced(ip, w.Services, sh.d.cfg.Election.Identity, true)
	sh.d.log.Info("vip announced", "vip", ip.String(), "holder", sh.d.cfg.Election.Identity,
		"until", time.Until(until).Round(time.Second))
	sh.d.notifier().Announced(ip, w.Services)
}

func (sh *shell) withdrawn(ip netip.Addr, reason string) {
	w := sh.wants[ip]
	sh.d.m.setAnnounced(ip, w.Services, sh.d.cfg.Election.Identity, false)
	sh.d.m.stepDowns.WithLabelValues(reason).Inc()
	sh.d.log.Info("vip withdrawn", "vip", ip.String(), "reason", reason)
	sh.d.notifier().Withdrawn(ip, w.Services, reason)
}

// installFailed reports a VIP this node could not put in place, once per kind of problem.
func (sh *shell) installFailed(ip netip.Addr, class election.PlaneClass, err error) {
	sh.d.m.planeFails.WithLabelValues("add").Inc()
	if class == election.PlaneExpired { // the node's fence, not the VIP: no Event
		sh.d.log.Warn("vip not installed: its lifetime would end within a second; waiting for the next presence renewal",
			"vip", ip.String(), "err", err)
		return
	}
	msg := err.Error()
	if class == election.PlaneRefused {
		msg = "node " + sh.d.cfg.Election.Identity + " cannot put the address in place and gives the VIP up so another node serves it: " + msg
	}
	sh.d.log.Error("announce failed", "vip", ip.String(), "err", err, "refused", class == election.PlaneRefused)
	if sh.refused[ip] == msg {
		return
	}
	sh.refused[ip] = msg
	sh.d.notifier().Problem(ip, sh.wants[ip].Services, ProblemCannotAnnounce, msg)
}

// account counts a request and reports what an operator must fix: RBAC, a missing
// namespace. Transient failures are logged at Warn, retries at Debug.
func (sh *shell) account(r result) {
	kind, op := "vip", r.op.String()
	if r.ref.Kind == election.KindNode {
		kind = "node"
		if r.ref.Node != sh.d.cfg.Election.Identity {
			kind = "peer"
		}
	}
	if !r.write {
		op = "read"
	}
	sh.d.m.leaseRequest(kind, op, r.class.String(), r.took)
	if r.class == election.ClassNone {
		if kind == "node" {
			sh.presenceProblem = ""
		}
		sh.transferred(r)
		return
	}
	sh.reportFailure(r, kind, op)
}

func (sh *shell) reportFailure(r result, kind, op string) {
	log := sh.d.log.With("lease", r.ref.String(), "op", op, "class", r.class.String(), "err", r.err)
	switch {
	case r.class == election.ClassNotFound && r.op == election.OpCreate:
		log.Error("the Lease namespace does not exist; retrying with backoff", "namespace", sh.d.cfg.Namespace)
		sh.d.m.namespaceMissing.WithLabelValues(sh.d.cfg.Namespace).Inc()
		sh.problem(r, kind, ProblemNamespaceMissing, "namespace "+sh.d.cfg.Namespace+" of vipkeeper's Leases does not exist: "+errString(r.err))
	case r.class == election.ClassPermanent:
		log.Error("lease request refused")
		sh.problem(r, kind, ProblemPermissionDenied, errString(r.err))
	case r.class == election.ClassTransient:
		log.Warn("lease request failed")
	default:
		log.Debug("lease request answered", "holder", r.rec.Holder)
	}
}

// problem reports a refused request: on the VIP's Services, or, when the node's own
// presence is refused (then it can serve nothing), once on every Service this node is a
// candidate for, until its presence is accepted again.
func (sh *shell) problem(r result, kind, reason, msg string) {
	if kind == "vip" {
		sh.d.notifier().Problem(r.ref.VIP, sh.wants[r.ref.VIP].Services, reason, msg)
		return
	}
	if kind != "node" || sh.presenceProblem == reason {
		return
	}
	sh.presenceProblem = reason
	msg = "the presence of node " + sh.d.cfg.Election.Identity + " is refused, so it serves no VIP: " + msg
	for ip, w := range sh.wants {
		if w.Eligible {
			sh.d.notifier().Problem(ip, w.Services, reason, msg)
		}
	}
}

// transferred counts an ownership change this node made, by cause.
func (sh *shell) transferred(r result) {
	if r.ref.Kind != election.KindVIP || (r.op != election.OpCreate && r.op != election.OpAcquire) {
		if r.op == election.OpRevoke {
			sh.d.log.Info("revoked a peer's presence: its incarnation ended", "holder", r.ref.Node)
		}
		return
	}
	sh.d.m.transfers.WithLabelValues(transferCause(r)).Inc()
}

// transferCause is a fixed label for the reason the core gave.
func transferCause(r result) string {
	switch {
	case r.op == election.OpCreate:
		return "created"
	case strings.HasPrefix(r.reason, "taken over"):
		return "takeover"
	case strings.HasPrefix(r.reason, "released by"):
		return "handover"
	}
	return "reacquired"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
