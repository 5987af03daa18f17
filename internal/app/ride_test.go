package app

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// parseResolved is parse with the role's Resolve, as cmd/vipkeeper runs it.
func parseResolved(t *testing.T, args []string, env map[string]string) AgentConfig {
	t.Helper()
	c, fs := parseFS(t, args, env)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.Resolve(func(n string) bool { return set[n] })
	return c
}

func TestAgentConfig_APeerKeyDirBringsTheRideTimings(t *testing.T) {
	c := parseResolved(t, []string{"--node-name=n1", "--peer-key-dir=/keys", "--peer-advertise=198.51.100.1:9474"}, nil)
	if c.Timing != RideTiming {
		t.Fatalf("timing %+v with --peer-key-dir, want %+v", c.Timing, RideTiming)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("ride defaults: %v", err)
	}
}

func TestAgentConfig_TimingSetByHandOverridesTheRideTimings(t *testing.T) {
	c := parseResolved(t, []string{"--node-name=n1", "--peer-key-dir=/keys", "--peer-advertise=198.51.100.1:9474"},
		map[string]string{"VIPKEEPER_LEASE_DURATION": "4s"})
	if c.Timing.LeaseDuration != 4*time.Second || c.Timing.RenewDeadline != RideTiming.RenewDeadline ||
		c.Timing.RetryPeriod != RideTiming.RetryPeriod {
		t.Fatalf("timing %+v, want the hand-set lease duration and the ride timing's others", c.Timing)
	}
}

func TestAgentConfig_RideTimingsNeedThePeerKeyDir(t *testing.T) {
	c := parseResolved(t, []string{"--node-name=n1", "--lease-duration=2s", "--renew-deadline=1.2s", "--retry-period=0.4s"}, nil)
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--peer-key-dir") {
		t.Fatalf("Validate() = %v, want the kernel-lifetime rules pointing at --peer-key-dir", err)
	}
}

func TestAgentConfig_RideThroughRefusesBGPAndAMissingAddress(t *testing.T) {
	c := parseResolved(t, []string{"--node-name=n1", "--peer-key-dir=/keys", "--bgp"}, map[string]string{"NODE_IP": ""})
	t.Setenv("NODE_IP", "")
	err := c.Validate()
	for _, want := range []string{"--bgp", "--peer-advertise"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestAgentConfig_ThePeerAddressDefaultsToTheNodeIP(t *testing.T) {
	t.Setenv("NODE_IP", "2001:db8::5")
	got, err := PeerConfig{Listen: ":9474"}.advertise()
	if err != nil || got.String() != "[2001:db8::5]:9474" {
		t.Fatalf("advertise() = %v, %v; want [2001:db8::5]:9474", got, err)
	}
}

func TestAgentConfig_TheRideTimingsPassTheCoreWithTheFence(t *testing.T) {
	ec := election.Config{Identity: "n1", LeaseDuration: RideTiming.LeaseDuration, RenewDeadline: RideTiming.RenewDeadline,
		RetryPeriod: RideTiming.RetryPeriod}
	fenceElection(&ec, RideConfig{Cap: 5 * time.Minute, ClockRate: 0.001})
	if err := ec.Validate(); err != nil {
		t.Fatalf("the ride timings with the fence: %v", err)
	}
}

func TestCollectorWait_OutlastsTheCap(t *testing.T) {
	c := Common{Timing: RideTiming, Ride: RideConfig{Cap: 5 * time.Minute, ClockRate: 0.001}}
	if w := collectorWait(c); w < RideTiming.LeaseDuration+c.Ride.Cap {
		t.Fatalf("collector waits %v, want at least LD + X = %v", w, RideTiming.LeaseDuration+c.Ride.Cap)
	}
}
