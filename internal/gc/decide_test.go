package gc

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

var (
	t0  = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tm  = Timing{Grace: 30 * time.Second, LeaseDuration: 15 * time.Second}
	ip  = netip.MustParseAddr("198.51.100.7")
	vr  = election.VIPRef(ip)
	nb  = election.NodeRef("b")
	rec = func(rv, holder, inc string) election.Record {
		return election.Record{Exists: true, RV: rv, Holder: holder, Incarnation: inc}
	}
)

// ops runs Decide at t0+at and names the writes.
func ops(st *State, at time.Duration) []string {
	var out []string
	for _, w := range Decide(t0.Add(at), st, tm) {
		out = append(out, w.Op.String()+" "+w.Ref.String())
	}
	return out
}

func eq(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
}

func TestDecide_AnUnwantedReleasedRecordGoesAfterTheGrace(t *testing.T) {
	st := &State{Records: map[election.Ref]election.Record{vr: rec("1", "", "")}, Nodes: map[string]bool{"b": true}}
	eq(t, "at once", ops(st, 0))
	eq(t, "before the grace", ops(st, 29*time.Second))
	eq(t, "after the grace", ops(st, 30*time.Second), "delete vip/198.51.100.7")
}

func TestDecide_AWantedAgainRecordStartsTheGraceAgain(t *testing.T) {
	st := &State{Records: map[election.Ref]election.Record{vr: rec("1", "", "")}}
	ops(st, 0)
	st.Wanted = map[netip.Addr]bool{ip: true}
	eq(t, "wanted", ops(st, 20*time.Second))
	st.Wanted = nil
	eq(t, "unwanted again", ops(st, 40*time.Second))
	eq(t, "unwanted again for 29s", ops(st, 69*time.Second))
	eq(t, "unwanted again for 30s", ops(st, 70*time.Second), "delete vip/198.51.100.7")
}

func TestDecide_ALiveHoldersRecordIsNeverTouched(t *testing.T) {
	st := &State{Records: map[election.Ref]election.Record{vr: rec("1", "b", "i1"), nb: rec("2", "b", "i1")},
		Nodes: map[string]bool{"b": true}}
	eq(t, "live holder", ops(st, 0))
	eq(t, "live holder, long after", ops(st, time.Hour))
	// A presence revoked with another incarnation proves nothing about this record.
	st.Records[nb] = rec("3", "", "i0")
	eq(t, "other incarnation revoked", ops(st, 2*time.Hour))
}

func TestDecide_ARecordOfARevokedIncarnationIsReleasedThenDeleted(t *testing.T) {
	st := &State{Records: map[election.Ref]election.Record{vr: rec("1", "b", "i1"), nb: rec("2", "", "i1")},
		Nodes: map[string]bool{"b": true}}
	ops(st, 0)
	eq(t, "after the grace", ops(st, 31*time.Second), "release vip/198.51.100.7")
	st.Records[vr] = rec("4", "", "")
	eq(t, "released", ops(st, 32*time.Second), "delete vip/198.51.100.7")
}

func TestDecide_ANodeThatLeftIsRevokedThenItsPresenceDeleted(t *testing.T) {
	st := &State{Records: map[election.Ref]election.Record{nb: rec("2", "b", "i1"), vr: rec("1", "b", "i1")},
		Wanted: map[netip.Addr]bool{ip: true}}
	ops(st, 0)
	eq(t, "gone, before the grace", ops(st, 29*time.Second))
	st.Records[nb] = rec("3", "b", "i1") // it still renews: not yet
	eq(t, "renewing", ops(st, 35*time.Second))
	eq(t, "standing still 15s", ops(st, 50*time.Second), "revoke node/b")
	st.Records[nb] = rec("5", "", "i1")
	eq(t, "revoked, a VIP record still names it", ops(st, 51*time.Second))
	delete(st.Records, vr)
	eq(t, "revoked, nothing names it", ops(st, 52*time.Second), "delete node/b")
}

// With the ride-through the collector is a revoker no holder asks, so it waits the
// unacknowledged wait (RevokeWait) on an unchanged presence, not LD.
func TestDecide_ADepartedNodeIsRevokedOnlyAfterTheRevokeWait(t *testing.T) {
	st := &State{Records: map[election.Ref]election.Record{nb: rec("5", "b", "i1")}, Nodes: map[string]bool{}}
	ride := Timing{Grace: tm.Grace, LeaseDuration: tm.LeaseDuration, RevokeWait: 5 * time.Minute}
	decide := func(at time.Duration) []string {
		var out []string
		for _, w := range Decide(t0.Add(at), st, ride) {
			out = append(out, w.Op.String()+" "+w.Ref.String())
		}
		return out
	}
	eq(t, "first seen", decide(0))
	eq(t, "after the grace and LD", decide(time.Minute))
	eq(t, "just before the revoke wait", decide(5*time.Minute-time.Second))
	eq(t, "after the revoke wait", decide(5*time.Minute), "revoke node/b")
}
