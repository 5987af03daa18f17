package lab

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServiceSetup is the Service a scenario runs against.
type ServiceSetup int

const (
	// ClusterAll: externalTrafficPolicy Cluster with an endpoint on every node.
	ClusterAll ServiceSetup = iota
	// LocalOne: externalTrafficPolicy Local with one endpoint, on node-2 (node-1 with one node).
	LocalOne
	// NoService: the scenario's steps create the Service themselves.
	NoService
)

func (s ServiceSetup) String() string {
	return [...]string{"Cluster, endpoints on every node", "Local, one endpoint", "created by the steps"}[s]
}

// Edge says whether a step's instant opens or closes a fault window (shaded in the plot).
type Edge int

const (
	NoEdge Edge = iota
	Opens
	Closes
)

// Step is one fault step: an action, its mark in the Timeline, and a wait after it.
type Step struct {
	Action Action        // nil Do: only wait
	Then   time.Duration // wait after the action
	Window Edge          // the action's instant opens or closes a fault window
}

// Action is a named fault (or repair) applied to a running scenario. Its label becomes a
// Timeline mark.
type Action struct {
	Label string
	Do    func(r *ScenarioRun) error
}

// Scenario is one chaos scenario: a Service, fault steps built from the timing preset,
// and how long to watch afterwards.
type Scenario struct {
	Name    string
	Summary string
	Setup   ServiceSetup
	// Steps returns the fault steps for a timing preset and node count.
	Steps  func(t Timing, nodes int) []Step
	Target func(t Timing) string // the target, for the report
	// Observe is the minimum watch after the last step (default: the renew deadline); the
	// run watches on until the VIP is healthy or maxObserve passes. The fault "ends" at the
	// end of the last closed window, or at the last window's start if none closes.
	Observe func(t Timing) time.Duration
	// RideOnly: the scenario needs the peer channel (Timing.Ride) and is skipped at the
	// other timings.
	RideOnly bool
	// Spare is how many nodes beyond the lab's the scenario needs, built but not started
	// (Config.Spare): its steps start them. It runs on a lab of its own.
	Spare int
	// Verify, if set, adds checks beyond the scored figures, after the watch and before
	// the lab is repaired (res holds the figures).
	Verify func(r *ScenarioRun, res Result) []Check
}

// RunsAt reports whether the scenario runs at timing t.
func (s Scenario) RunsAt(t Timing) bool { return t.Ride || !s.RideOnly }

// Scenarios are the chaos scenarios of the benchmark, in report order.
func Scenarios() []Scenario {
	return []Scenario{
		etcdFrozen("etcd-frozen-8s", 8*time.Second, ClusterAll, fixed("0 ms outage, 0 holder changes (defaults)")),
		etcdFlapping(),
		apiserverRestart(),
		apiserverKilled60s(),
		etcdFrozen("etcd-frozen-30s-local", 30*time.Second, LocalOne, atRide(rideZero, fixed("0 split-brain, VIP back within 1 s of thaw"))),
		etcdFrozenLong(),
		etcdSlow("etcd-slow-1s", time.Second, "0 ms outage, 0 holder changes, 0 split"),
		etcdSlow("etcd-slow-2s", 2*time.Second, "0 ms outage, 0 holder changes, 0 split (defaults)"),
		etcdSlow("etcd-slow-4s", 4*time.Second, "0 ms outage, 0 holder changes, 0 split (defaults)"),
		etcdSlow("etcd-slow-8s", 8*time.Second, "0 split; outage no longer than the part over the bound (docs/design.md)"),
		coldStart(),
		leaderPowerOff(),
		leaderSIGKILL(),
		leaderSIGTERM(),
		leaderSIGKILLRestart(),
		leaderAPICut(),
		leaderAPIAndPeersCut(),
		endpointMoved(),
		sigtermRollout(),
		serviceCreated(),
		wrongPeerKey(),
		etcdFrozenJoinCut(),
	}
}

// ScenarioNames lists the names of Scenarios.
func ScenarioNames() []string {
	var out []string
	for _, s := range Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// SelectScenarios returns the scenarios named in only (comma-separated; empty or "all":
// every scenario), in report order.
func SelectScenarios(only string) ([]Scenario, error) {
	all := Scenarios()
	if only == "" || only == "all" {
		return all, nil
	}
	if only == "none" {
		return nil, nil
	}
	want := strings.Split(only, ",")
	var out []Scenario
	for _, s := range all {
		if slices.Contains(want, s.Name) {
			out = append(out, s)
		}
	}
	for _, w := range want {
		if !slices.ContainsFunc(all, func(s Scenario) bool { return s.Name == w }) {
			return nil, fmt.Errorf("no scenario %q; have %s", w, strings.Join(ScenarioNames(), ", "))
		}
	}
	return out, nil
}

func fixed(s string) func(Timing) string { return func(Timing) string { return s } }

func etcdFrozen(name string, d time.Duration, setup ServiceSetup, target func(Timing) string) Scenario {
	return Scenario{Name: name, Setup: setup, Target: target,
		Summary: fmt.Sprintf("etcd frozen for %v (every byte between kube-apiserver and etcd held)", d),
		Steps: func(Timing, int) []Step {
			return []Step{{Action: freezeEtcd, Then: d, Window: Opens}, {Action: thawEtcd, Window: Closes}}
		}}
}

// etcdSlow adds perTrip of latency to every round trip between kube-apiserver and etcd for
// 60 s (half of it each way), under a Local Service with one endpoint: a busy disk or a
// defragmentation, not an outage.
func etcdSlow(name string, perTrip time.Duration, target string) Scenario {
	return Scenario{Name: name, Setup: LocalOne, Target: fixed(target),
		Summary: fmt.Sprintf("etcd slowed by %v per round trip for 60 s", perTrip),
		Steps: func(Timing, int) []Step {
			return []Step{{Action: delayEtcd(perTrip / 2), Then: time.Minute, Window: Opens}, {Action: undelayEtcd, Window: Closes}}
		}}
}

// coldStart kills kube-apiserver, restarts every daemon while it is down, and brings it
// back 25 s later: "settled" is from kube-apiserver answering again to the VIP's answer.
func coldStart() Scenario {
	return Scenario{Name: "cold-start-api-down", Setup: ClusterAll, Target: fixed("VIP answered within 1 s of kube-apiserver answering again"),
		Summary: "kube-apiserver killed, every daemon restarted while it is down, kube-apiserver back 25 s later",
		Steps: func(_ Timing, nodes int) []Step {
			out := []Step{{Action: killAPIServer, Window: Opens}}
			for i := 1; i <= nodes; i++ {
				out = append(out, Step{Action: restartNodeBlind(i)})
			}
			return append(out, Step{Then: 25 * time.Second}, Step{Action: restartAPIServer, Window: Closes})
		}}
}

func etcdFlapping() Scenario {
	return Scenario{Name: "etcd-flapping", Setup: ClusterAll, Target: fixed("0 outage, 0 changes (fast)"),
		Summary: "etcd frozen 2 s, thawed 0.5 s, ten times",
		Steps: func(Timing, int) []Step {
			var out []Step
			for range 10 {
				out = append(out, Step{Action: freezeEtcd, Then: 2 * time.Second, Window: Opens},
					Step{Action: thawEtcd, Then: 500 * time.Millisecond, Window: Closes})
			}
			return out
		}}
}

func apiserverRestart() Scenario {
	return Scenario{Name: "apiserver-restart", Setup: ClusterAll, Target: fixed("0 ms outage (defaults)"),
		Summary: "kube-apiserver SIGKILLed and started again at once (down until it is ready)",
		Steps: func(Timing, int) []Step {
			return []Step{{Action: killAPIServer, Window: Opens}, {Action: restartAPIServer, Window: Closes}}
		}}
}

// offFor is how long a leader stays off in the power-off and API-cut scenarios: long enough
// for a successor to take over (lease duration + two retry periods) plus 5 s; 30 s at the
// ride timing (issue 11), so that a ride-through has to last.
func offFor(t Timing) time.Duration {
	if t.Ride {
		return rideOff
	}
	return t.LeaseDuration + 2*t.RetryPeriod + 5*time.Second
}

func leaderPowerOff() Scenario {
	return Scenario{Name: "leader-power-off", Setup: ClusterAll,
		Target: atRide("outage <= 2 s, 0 split-brain after revival", func(t Timing) string {
			return fmt.Sprintf("outage <= %v, 0 split-brain after revival", t.LeaseDuration+time.Second)
		}),
		Summary: "leader's daemon frozen (SIGSTOP) and its data link down for LD + 2 RP + 5 s (ride: 30 s), then both restored",
		Steps: func(t Timing, _ int) []Step {
			return []Step{{Action: powerOffLeader, Then: offFor(t), Window: Opens}, {Action: reviveLeader, Window: Closes}}
		}}
}

func leaderSIGKILL() Scenario {
	return Scenario{Name: "leader-sigkill", Setup: ClusterAll,
		Target: atRide("outage <= 2 s, 0 split-brain", func(t Timing) string {
			return fmt.Sprintf("outage <= %v (LD + 1 s)", t.LeaseDuration+time.Second)
		}),
		Summary: "leader's daemon SIGKILLed, not restarted",
		Observe: untilTakeover,
		Steps:   func(Timing, int) []Step { return []Step{{Action: killLeader, Window: Opens}} }}
}

// untilTakeover outlasts a dead leader's address (its kernel lifetime, at most RD) and a
// successor's wait (LD + an attempt + spread): the dying holder must not end the watch.
func untilTakeover(t Timing) time.Duration { return t.LeaseDuration + 2*t.RetryPeriod + 2*time.Second }

func leaderSIGTERM() Scenario {
	return Scenario{Name: "leader-sigterm", Setup: ClusterAll, Target: fixed("outage <= 500 ms, 0 split-brain"),
		Summary: "leader's daemon SIGTERMed (withdraw, release), not restarted",
		Observe: untilTakeover,
		Steps:   func(Timing, int) []Step { return []Step{{Action: terminateLeader, Window: Opens}} }}
}

func leaderSIGKILLRestart() Scenario {
	return Scenario{Name: "leader-sigkill-restart-20s", Setup: ClusterAll,
		Target:  func(t Timing) string { return fmt.Sprintf("0 split-brain, outage <= %v", t.LeaseDuration+time.Second) },
		Summary: "leader's daemon SIGKILLed and started again 20 s later",
		Steps: func(Timing, int) []Step {
			return []Step{{Action: killLeader, Then: 20 * time.Second, Window: Opens}, {Action: startLeader, Window: Closes}}
		}}
}

func leaderAPICut() Scenario {
	return Scenario{Name: "leader-api-cut", Setup: ClusterAll,
		Target: atRide(rideZero, func(t Timing) string {
			return fmt.Sprintf("0 split-brain, outage <= %v (LD - RD + 1 s)", t.LeaseDuration-t.RenewDeadline+time.Second)
		}),
		Summary: "leader's management link (API only) down for LD + 2 RP + 5 s (ride: 30 s); its data link and peers stay up",
		Steps: func(t Timing, _ int) []Step {
			return []Step{{Action: cutLeaderAPI, Then: offFor(t), Window: Opens}, {Action: restoreLeaderAPI, Window: Closes}}
		}}
}

func endpointMoved() Scenario {
	return Scenario{Name: "endpoint-moved", Setup: LocalOne, Target: fixed("VIP follows its endpoint (issue: within 1 s)"),
		Summary: "Local Service: its only endpoint moved from the holder's node to the next node",
		Steps:   func(Timing, int) []Step { return []Step{{Action: moveEndpoint, Window: Opens}} }}
}

func sigtermRollout() Scenario {
	return Scenario{Name: "sigterm-rollout", Setup: ClusterAll, Target: fixed("outage <= 500 ms, 0 split-brain"),
		Summary: "every node's daemon SIGTERMed and started again, one after another (ready, then 2 RP, then the next)",
		Steps: func(t Timing, nodes int) []Step {
			var out []Step
			for i := 1; i <= nodes; i++ {
				out = append(out, Step{Action: terminateNode(i), Window: Opens},
					Step{Action: startNode(i), Then: 2 * t.RetryPeriod, Window: Closes})
			}
			return out
		}}
}

func serviceCreated() Scenario {
	return Scenario{Name: "service-created", Setup: NoService, Target: fixed("first ARP reply <= 500 ms"),
		Summary: "a Cluster Service created; time from the create request to the first ARP reply",
		Observe: func(Timing) time.Duration { return 3 * time.Second },
		Steps:   func(Timing, int) []Step { return []Step{{Action: createService, Window: Opens}} }}
}
