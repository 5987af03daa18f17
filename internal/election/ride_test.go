package election

import (
	"net/netip"
	"testing"
	"time"
)

// rideNode is node id at the ride-through timings, registered, with peer a's presence
// and a's record of vip, wanted here; its own renewals land at once.
func rideNode(t *testing.T, id string, vip netip.Addr) (*Node, time.Time, func(now time.Time, ev Event) []Action) {
	t.Helper()
	n, err := New(rideConfig(id))
	if err != nil {
		t.Fatal(err)
	}
	rv := 0
	var step func(now time.Time, ev Event) []Action
	step = func(now time.Time, ev Event) []Action {
		var out []Action
		for _, a := range n.Step(now, ev) {
			out = append(out, a)
			if w, ok := a.(Write); ok && w.Ref == NodeRef(id) && (w.Op == OpRenew || w.Op == OpCreate) {
				rv++
				rec := Record{Exists: true, RV: "s" + itoa(rv), Holder: id, Incarnation: w.Incarnation, Token: w.Token}
				out = append(out, step(now, WriteDone{ID: w.ID, Record: rec})...)
			}
		}
		return out
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	step(t0, Observed{Ref: NodeRef(id)})
	step(t0, Observed{Ref: NodeRef("a"), Record: Record{Exists: true, RV: "1", Holder: "a", Incarnation: "pa"}})
	step(t0, Observed{Ref: VIPRef(vip), Record: Record{Exists: true, RV: "2", Holder: "a", Incarnation: "pa"}})
	step(t0, WantChanged{VIP: vip, Want: Want{Wanted: true, Eligible: true}})
	return n, t0, step
}

func itoa(i int) string { return time.Duration(i).String() }

// revokeAt runs the node's renewals every RetryPeriod until it revokes a, or until limit.
func revokeAt(t0 time.Time, limit time.Duration, n *Node, step func(time.Time, Event) []Action) (time.Duration, bool) {
	for now := t0; now.Sub(t0) < limit; now = now.Add(10 * time.Millisecond) {
		for _, a := range step(now, Ticked{}) {
			if w, ok := a.(Write); ok && w.Op == OpRevoke && w.Ref == NodeRef("a") {
				return now.Sub(t0), true
			}
		}
	}
	return 0, false
}

func TestRide_AnUnacknowledgedNodeWaitsLDPlusX(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.7")
	n, t0, step := rideNode(t, "b", vip)
	want := n.cfg.UnackedWait()
	got, ok := revokeAt(t0, want+5*time.Second, n, step)
	if !ok || got < want {
		t.Fatalf("b revoked a's presence after %v (revoked: %v), want no sooner than %v", got, ok, want)
	}
}

func TestRide_AnAcknowledgedNodeWaitsLD(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.7")
	n, t0, step := rideNode(t, "b", vip)
	step(t0, Received{From: "a", Msg: PeerMsg{Kind: MsgAck, Inc: "pa", ToInc: n.Incarnation()}})
	got, ok := revokeAt(t0, 10*time.Second, n, step)
	if !ok || got < n.cfg.LeaseDuration || got > n.cfg.LeaseDuration+time.Second {
		t.Fatalf("b revoked a's presence after %v (revoked: %v), want about LD %v", got, ok, n.cfg.LeaseDuration)
	}
}

// finding 2: an acknowledgement counts only for waits that begin after it.
func TestRide_AnAcknowledgementCountsOnlyForWaitsThatBeginAfterIt(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.7")
	n, t0, step := rideNode(t, "b", vip)
	late := t0.Add(time.Second)
	for now := t0; now.Before(late); now = now.Add(10 * time.Millisecond) {
		step(now, Ticked{})
	}
	step(late, Received{From: "a", Msg: PeerMsg{Kind: MsgAck, Inc: "pa", ToInc: n.Incarnation()}})
	if got, ok := revokeAt(late, 10*time.Second, n, step); ok {
		t.Fatalf("b revoked a's presence %v after a late acknowledgement: its wait began before it", got)
	}
}

// A renewal whose reply comes late must not make a node sighted past its own fence: by then
// a peer may have revoked it, and a revoked node must not revoke (it left the holders'
// rounds). Sighted, it would refuse; blind, it vouches.
func TestRide_ANodeIsNotSightedPastItsOwnFence(t *testing.T) {
	n, err := New(rideConfig("b"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var create Write
	for _, a := range n.Step(t0, Observed{Ref: NodeRef("b")}) {
		if w, ok := a.(Write); ok && w.Op == OpCreate {
			create = w
		}
	}
	late := t0.Add(n.cfg.RenewDeadline + 100*time.Millisecond)
	n.Step(late, WriteDone{ID: create.ID, Record: Record{Exists: true, RV: "1", Holder: "b", Incarnation: create.Incarnation, Token: create.Token}})
	if n.sighted(late) {
		t.Fatalf("sighted %v after a write emitted %v earlier landed", late.Sub(t0), late.Sub(t0))
	}
	q := Received{From: "a", Msg: PeerMsg{Kind: MsgQuery, Inc: "pa", ToInc: n.Incarnation(), Seq: 1}}
	vouched := false
	for _, a := range n.Step(late, q) {
		if s, ok := a.(Send); ok && s.Msg.Kind == MsgVouch {
			vouched = true
		}
	}
	if !vouched {
		t.Fatal("a node whose only landed write is older than its fence refused to vouch")
	}
}

// A member seen revoked stays in the holder's rounds for the unacknowledged wait: a
// revocation it issued before its own may still land.
func TestRide_ARevokedMemberIsAskedForTheUnacknowledgedWait(t *testing.T) {
	n, err := New(rideConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n.Step(t0, Observed{Ref: NodeRef("b"), Record: Record{Exists: true, RV: "1", Holder: "b", Incarnation: "pb"}})
	n.rd.acked["b"] = ackedMember{inc: "pb", at: t0}
	n.Step(t0, Observed{Ref: NodeRef("b"), Record: Record{Exists: true, RV: "2", Holder: "", Incarnation: "pb"}})
	w := n.cfg.UnackedWait()
	if got := n.members(t0.Add(w - time.Second)); len(got) != 1 || got[0] != "b" {
		t.Fatalf("members %v just before the wait, want [b]", got)
	}
	if got := n.members(t0.Add(w)); len(got) != 0 {
		t.Fatalf("members %v after the wait, want none", got)
	}
}
