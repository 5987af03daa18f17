package election

import (
	"net/netip"
	"testing"
	"time"
)

// planeStep steps ev and reports every Install and Uninstall done, as a shell would; it
// returns all the actions.
func planeStep(n *Node, now time.Time, ev Event) []Action {
	var out []Action
	for _, a := range n.Step(now, ev) {
		out = append(out, a)
		switch a := a.(type) {
		case Install:
			out = append(out, planeStep(n, now, PlaneDone{VIP: a.VIP, Install: true})...)
		case Uninstall:
			out = append(out, planeStep(n, now, PlaneDone{VIP: a.VIP})...)
		}
	}
	return out
}

// rideHolder is holder a at the ride-through timings, registered (its first write lands at
// once, later ones never), knowing members b and c, announcing vip.
func rideHolder(t *testing.T, vip netip.Addr) (*Node, time.Time) {
	t.Helper()
	n, err := New(rideConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range n.Step(t0, Observed{Ref: NodeRef("a")}) {
		if w, ok := a.(Write); ok && w.Op == OpCreate {
			n.Step(t0, WriteDone{ID: w.ID, Record: Record{Exists: true, RV: "1", Holder: "a", Incarnation: w.Incarnation, Token: w.Token}})
		}
	}
	n.Step(t0, Observed{Ref: NodeRef("b"), Record: Record{Exists: true, RV: "2", Holder: "b", Incarnation: "pb"}})
	n.Step(t0, Observed{Ref: NodeRef("c"), Record: Record{Exists: true, RV: "3", Holder: "c", Incarnation: "pc"}})
	n.Step(t0, Observed{Ref: VIPRef(vip), Record: Record{Exists: true, RV: "4", Holder: "a", Incarnation: n.Incarnation()}})
	planeStep(n, t0, WantChanged{VIP: vip, Want: Want{Wanted: true, Eligible: true}})
	if !n.Leading(vip) {
		t.Fatalf("a does not announce %s after registering", vip)
	}
	return n, t0
}

// Finding 1 (docs/ride-through-model.md, the LATE mutant): attestations that complete a
// round only after the holder's deadline passed must not restart announcing: a member may
// have revoked the holder in between, and lost its sight only then.
func TestRide_AttestationsAfterTheLapseDoNotRestartAnnouncing(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.7")
	n, t0 := rideHolder(t, vip)
	var seq uint64 // the last round queried before the lapse
	now := t0
	for ; n.Leading(vip) && now.Sub(t0) < 5*time.Second; now = now.Add(10 * time.Millisecond) {
		for _, a := range planeStep(n, now, Ticked{}) {
			if s, ok := a.(Send); ok && s.Msg.Kind == MsgQuery {
				seq = s.Msg.Seq
			}
		}
	}
	if n.Leading(vip) || seq == 0 {
		t.Fatalf("a still announces after %v without a renewal (last round %d)", now.Sub(t0), seq)
	}
	granted := n.RideStatus().Granted
	for _, from := range []string{"b", "c"} {
		inc := map[string]string{"b": "pb", "c": "pc"}[from]
		for _, a := range planeStep(n, now, Received{From: from, Msg: PeerMsg{Kind: MsgVouch, Inc: inc, ToInc: n.Incarnation(), Seq: seq}}) {
			if in, ok := a.(Install); ok {
				t.Fatalf("a installs %s again, until %v, on attestations completed after its deadline", vip, in.Until)
			}
		}
	}
	if n.Leading(vip) || n.RideStatus().Granted != granted {
		t.Fatalf("a announces again (granted %d -> %d) on attestations completed after its deadline", granted, n.RideStatus().Granted)
	}
}
