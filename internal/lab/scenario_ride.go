package lab

import (
	"fmt"
	"os"
	"time"
)

// The ride-through scenarios (issue 11): a holder that cannot renew keeps announcing on
// its peers' signed attestations. Their targets are the issue's; at the timings without
// the peer channel the scenarios that can run there keep the targets of the old design.

const (
	// rideZero is the target wherever the ride-through should hide the fault.
	rideZero = "0 ms outage, 0 split-brain"
	// rideOff is how long a leader stays off or cut at the ride timing (offFor).
	rideOff = 30 * time.Second
	// longFreezeDefault is etcd-frozen-5m's freeze; LongFreezeEnv shortens it for development.
	longFreezeDefault = 5 * time.Minute
	// LongFreezeEnv, a duration ("30s"), replaces the freeze of etcd-frozen-5m (the
	// scenario keeps its name; its summary says how long etcd was frozen).
	LongFreezeEnv = "VIPKEEPER_LAB_LONG_FREEZE"
	// joinFreeze is how long etcd stays frozen after the fourth node joined.
	joinFreeze = 30 * time.Second
	// wrongKeyFreeze is the freeze that makes the nodes ask each other in wrong-peer-key.
	wrongKeyFreeze = 20 * time.Second
)

// Check is one verdict beyond the scored figures (Scenario.Verify): a takeover time, a
// metric of the daemons.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Detail string `json:"detail"`
}

// atRide is the target ride at the ride timing and other's elsewhere.
func atRide(ride string, other func(Timing) string) func(Timing) string {
	return func(t Timing) string {
		if t.Ride {
			return ride
		}
		return other(t)
	}
}

// longFreeze is etcd-frozen-5m's freeze: $VIPKEEPER_LAB_LONG_FREEZE if it is a positive
// duration, else 5 minutes.
func longFreeze() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(LongFreezeEnv)); err == nil && d > 0 {
		return d
	}
	return longFreezeDefault
}

// etcdFrozenLong freezes etcd for five minutes: as long as the ride cap (--ride-cap, 5m).
// At the other timings the 30 s freeze already shows the withdrawal at the fence, so it
// runs only at the ride timing.
func etcdFrozenLong() Scenario {
	sc := etcdFrozen("etcd-frozen-5m", longFreeze(), ClusterAll, fixed(rideZero))
	sc.RideOnly = true
	return sc
}

func apiserverKilled60s() Scenario {
	return Scenario{Name: "apiserver-killed-60s", Setup: ClusterAll,
		Target:  atRide(rideZero, fixed("0 split-brain, VIP back within 1 s of kube-apiserver ready")),
		Summary: "kube-apiserver SIGKILLed, started again 60 s later (down until it is ready)",
		Steps: func(Timing, int) []Step {
			return []Step{{Action: killAPIServer, Then: time.Minute, Window: Opens}, {Action: restartAPIServer, Window: Closes}}
		}}
}

func leaderAPIAndPeersCut() Scenario {
	return Scenario{Name: "leader-api-and-peers-cut", Setup: ClusterAll, RideOnly: true,
		Target: func(t Timing) string {
			return fmt.Sprintf("withdrawn at its fence; successor <= %v (LD + 0.5 s); 0 split-brain", t.LeaseDuration+500*time.Millisecond)
		},
		Summary: "leader's management link down and its peer datagrams (UDP 9474) dropped on its data link for 30 s; its ARP flows",
		Verify:  verifyHandover,
		Steps: func(t Timing, _ int) []Step {
			return []Step{{Action: cutLeaderAPIAndPeers, Then: offFor(t), Window: Opens}, {Action: restoreLeaderAPIAndPeers, Window: Closes}}
		}}
}

func wrongPeerKey() Scenario {
	return Scenario{Name: "wrong-peer-key", Setup: ClusterAll, RideOnly: true,
		Target:  fixed("never vouches, is never vouched for; 0 split-brain"),
		Summary: fmt.Sprintf("the node after the leader restarted with a wrong peer key (same key ID, other bytes), then etcd frozen %v", wrongKeyFreeze),
		Verify:  verifyWrongKey,
		Steps: func(Timing, int) []Step {
			return []Step{{Action: restartNextWithWrongKey, Then: 2 * time.Second, Window: Opens},
				{Action: freezeEtcd, Then: wrongKeyFreeze, Window: Opens}, {Action: thawEtcd, Window: Closes}}
		}}
}

// etcdFrozenJoinCut freezes etcd, cuts the holder's peer link to a fourth node and then
// starts that node: it joins blind and never hears the holder.
func etcdFrozenJoinCut() Scenario {
	return Scenario{Name: "etcd-frozen-join-cut", Setup: ClusterAll, RideOnly: true, Spare: 1,
		Target: fixed("0 split-brain"),
		Summary: fmt.Sprintf("etcd frozen; 2 s later the holder's peer link to a fourth node cut and that node's daemon started; thawed %v later, the link back LD after",
			joinFreeze),
		Steps: func(t Timing, _ int) []Step {
			return []Step{{Action: freezeEtcd, Then: 2 * time.Second, Window: Opens},
				{Action: cutLeaderPeerToSpare}, {Action: startSpare, Then: joinFreeze},
				{Action: thawEtcd, Then: t.LeaseDuration, Window: Closes}, {Action: restoreLeaderPeerToSpare}}
		}}
}
