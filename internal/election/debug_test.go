package election

import (
	"fmt"
	"net/netip"
)

func (n *Node) debugWake() string {
	at, ok := n.nextPresenceAttempt()
	return fmt.Sprintf("self.wake=%v presence(at=%v ok=%v reg=%d renews=%d registered=%v needRead=%v fails=%d) sched=%v sweep=%v last=%v",
		n.clk.raw(n.self.wake(n)), n.clk.raw(at), ok, n.self.reg, n.self.renews, n.self.registered, n.self.needRead, n.self.fails,
		n.clk.raw(n.sched.next()), n.clk.raw(n.sweepRetry), n.clk.last)
}

func (n *Node) debugNext() string {
	return fmt.Sprintf("selfwake=%v schednext=%v sweep=%v off=%v", n.self.wake(n), n.sched.next(), n.sweepRetry, n.clk.off)
}

func (n *Node) debugVIP(ip netip.Addr) string {
	v := n.vips[ip]
	if v == nil {
		return n.cfg.Identity + ": no state"
	}
	s := fmt.Sprintf("%s(inc %s reg=%v live=%v): view=%s known=%v want=%+v told=%v inflight=%d needRead=%v deadRV=%q fails=%d notAfter=%v blocked=%v plane=%+v since=%v viewSeq=%d",
		n.cfg.Identity, n.self.inc, n.self.registered, n.self.live(n.clk.last), v.view, v.known, v.want, v.told, v.inflight, v.needRead, v.deadRV, v.fails, v.notAfter, v.blockedUntil, v.plane, v.since, v.viewSeq)
	if h := v.view.Holder; h != "" && h != n.cfg.Identity {
		if p := n.peers[h]; p != nil {
			s += fmt.Sprintf("\n   peer %s: view=%s since=%v revoked=%v auth=%s authSeq=%d busy=%d deadRV=%q notAft=%v", h, p.view, p.since, p.revoked, p.auth, p.authSeq, p.busy, p.deadRV, p.notAft)
		}
	}
	at, _ := n.sched.vipAt[ip]
	s += fmt.Sprintf(" wakeAt=%v now=%v busy=%d waitQ=%d", at, n.clk.last, n.busy, len(n.waitQ))
	return s
}
