package lab

import (
	"context"
	"testing"
	"time"
)

// TestRide_LeaderCutOffFromTheAPIKeepsItsVIPAlone runs leader-api-cut at the ride timing
// (issue 11: the holder keeps announcing on its peers' attestations) on a lab of its own,
// about a minute. Like TestScenarios_LeaderFailuresNeverLetTwoNodesAnswer it asserts
// only safety and that the VIP settles; the outage is logged (the target is 0 ms).
func TestRide_LeaderCutOffFromTheAPIKeepsItsVIPAlone(t *testing.T) {
	if err := checkHost(); err != nil {
		t.Skipf("no lab: %v", err)
	}
	shared.mu.Lock()
	bin, err := daemonBin()
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("daemon binary: %v", err)
	}
	l := StartTest(t, Config{Nodes: 3, Timing: RideTiming, DaemonBin: bin})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := l.WaitReady(ctx); err != nil {
		t.Fatalf("lab daemons: %v", err)
	}
	scs, err := SelectScenarios("leader-api-cut")
	if err != nil {
		t.Fatal(err)
	}
	res := (&Runner{Lab: l}).Run(t.Context(), scs[0])
	if res.Error != "" {
		t.Fatalf("%s: %s", res.Scenario, res.Error)
	}
	t.Logf("%s at ride: longest outage %d ms, holder changes %d, settled %s ms", res.Scenario, res.LongestOutageMs, res.HolderChanges, optMs(res.TimeToHealthyMs))
	if res.SplitBrainMs != 0 || res.SplitRounds != 0 {
		t.Errorf("two nodes answered %s for %d ms (%d rounds)", res.VIP, res.SplitBrainMs, res.SplitRounds)
	}
	if res.TimeToHealthyMs == nil {
		t.Errorf("%s never answered by one node alone after the cut", res.VIP)
	}
}
