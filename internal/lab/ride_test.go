package lab

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseTiming_RideIsTheIssuesTimingsWithThePeerChannel(t *testing.T) {
	got, err := ParseTiming("ride")
	if err != nil {
		t.Fatal(err)
	}
	want := Timing{Name: "ride", LeaseDuration: 2 * time.Second, RenewDeadline: 1200 * time.Millisecond, RetryPeriod: 400 * time.Millisecond, Ride: true}
	if got != want {
		t.Errorf("ParseTiming(ride) = %+v, want %+v", got, want)
	}
	for _, name := range []string{"default", "fast", "bgp"} {
		if tm, _ := ParseTiming(name); tm.Ride {
			t.Errorf("timing %s has the peer channel on", name)
		}
	}
	o, err := parseBenchFlags("scenarios", []string{"--timings=ride,default", "--only=wrong-peer-key"}, io.Discard)
	if err != nil || len(o.timings) != 2 || o.timings[0] != RideTiming {
		t.Errorf("parseBenchFlags(--timings=ride,default) = %+v, %v", o.timings, err)
	}
}

func TestRenderCmd_PeerFlagsOnlyWithThePeerChannelAndOnTheDataAddress(t *testing.T) {
	base := DaemonArgs{Bin: "/b/vipkeeper", Node: "node-2", Kubeconfig: "/lab/k", Interface: "eth0", Namespace: "ns",
		HealthAddr: "203.0.113.3:9473", MetricsAddr: "203.0.113.3:9472",
		LeaseDuration: RideTiming.LeaseDuration, RenewDeadline: RideTiming.RenewDeadline, RetryPeriod: RideTiming.RetryPeriod}
	plain, err := renderCmd(DefaultDaemonCmd, base)
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(plain, " "); strings.Contains(s, "--peer") {
		t.Errorf("without the peer channel: %s", s)
	}
	ride, err := renderCmd(DefaultDaemonCmd, withPeer(base, 2, "/lab/peer-keys"))
	if err != nil {
		t.Fatal(err)
	}
	want := append(plain, "--peer-key-dir=/lab/peer-keys", "--peer-listen=198.51.100.12:9474", "--peer-advertise=198.51.100.12:9474")
	if diff := cmp.Diff(want, ride); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if !slices.Contains(ride, "--renew-deadline=1.2s") || !slices.Contains(ride, "--retry-period=400ms") {
		t.Errorf("ride timing not rendered: %q", ride)
	}
}

func TestWritePeerKeys_TwoDirsOneRandomKeyEachUnderTheSameID(t *testing.T) {
	dir := t.TempDir()
	good, wrong, err := writePeerKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	read := func(d string) []byte {
		t.Helper()
		cur, err := os.ReadFile(filepath.Join(d, "current"))
		if err != nil || strings.TrimSpace(string(cur)) != peerKeyID {
			t.Errorf("%s/current = %q, %v; want %q", d, cur, err, peerKeyID)
		}
		b, err := os.ReadFile(filepath.Join(d, peerKeyID))
		if err != nil {
			t.Fatal(err)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) != 32 {
			t.Errorf("key in %s: %d bytes, %v; want 32 bytes of base64", d, len(key), err)
		}
		fi, _ := os.Stat(filepath.Join(d, peerKeyID))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
		}
		return key
	}
	if bytes.Equal(read(good), read(wrong)) {
		t.Error("the wrong key equals the lab's key")
	}
	if _, _, err := writePeerKeys(dir); err == nil {
		t.Error("writePeerKeys over existing dirs = nil error, want one (a lab writes its keys once)")
	}
}

func TestConfigValidate_SpareNodesMustLeaveOneStarted(t *testing.T) {
	for _, cfg := range []Config{{Nodes: 3, Spare: 3}, {Nodes: 3, Spare: -1}} {
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "spare nodes") {
			t.Errorf("Validate(%+v) = %v, want a spare-nodes error", cfg, err)
		}
	}
	if err := (Config{Nodes: 4, Spare: 1}).Validate(); err != nil {
		t.Errorf("4 nodes, 1 spare: %v", err)
	}
}

func TestScenarios_RideTargetsAtRideAndTheOldOnesElsewhere(t *testing.T) {
	targets := map[string][2]string{ // default, ride
		"etcd-frozen-30s-local":    {"0 split-brain, VIP back within 1 s of thaw", rideZero},
		"leader-api-cut":           {"0 split-brain, outage <= 6s (LD - RD + 1 s)", rideZero},
		"leader-power-off":         {"outage <= 16s, 0 split-brain after revival", "outage <= 2 s, 0 split-brain after revival"},
		"leader-sigkill":           {"outage <= 16s (LD + 1 s)", "outage <= 2 s, 0 split-brain"},
		"apiserver-killed-60s":     {"0 split-brain, VIP back within 1 s of kube-apiserver ready", rideZero},
		"etcd-frozen-5m":           {rideZero, rideZero},
		"leader-api-and-peers-cut": {"", "withdrawn at its fence; successor <= 2.5s (LD + 0.5 s); 0 split-brain"},
		"wrong-peer-key":           {"", "never vouches, is never vouched for; 0 split-brain"},
		"etcd-frozen-join-cut":     {"", "0 split-brain"},
	}
	for name, want := range targets {
		scs, err := SelectScenarios(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := scs[0]
		if got := sc.Target(RideTiming); got != want[1] {
			t.Errorf("%s at ride: target %q, want %q", name, got, want[1])
		}
		if want[0] != "" && sc.Target(DefaultTiming) != want[0] {
			t.Errorf("%s at default: target %q, want %q", name, sc.Target(DefaultTiming), want[0])
		}
		if sc.Summary == "" {
			t.Errorf("%s has no summary", name)
		}
	}
}

func TestScenarios_StepsAtEveryTimingAreActionsOrWaitsAndOffForIs30sAtRide(t *testing.T) {
	for _, tm := range []Timing{DefaultTiming, FastTiming, RideTiming} {
		for _, sc := range Scenarios() {
			for _, st := range sc.Steps(tm, 3) {
				if st.Action.Do != nil && st.Action.Label == "" || st.Then < 0 {
					t.Errorf("%s at %s: step %+v", sc.Name, tm.Name, st)
				}
			}
		}
	}
	if offFor(RideTiming) != 30*time.Second || offFor(DefaultTiming) != 24*time.Second {
		t.Errorf("offFor: ride %v, default %v; want 30s and 24s", offFor(RideTiming), offFor(DefaultTiming))
	}
}

func TestLongFreeze_FiveMinutesUnlessTheEnvironmentShortensIt(t *testing.T) {
	t.Setenv(LongFreezeEnv, "")
	if got := longFreeze(); got != 5*time.Minute {
		t.Errorf("longFreeze() = %v, want 5m", got)
	}
	t.Setenv(LongFreezeEnv, "20s")
	scs, _ := SelectScenarios("etcd-frozen-5m")
	if got := scs[0].Steps(RideTiming, 3)[0].Then; got != 20*time.Second {
		t.Errorf("etcd-frozen-5m with %s=20s freezes %v", LongFreezeEnv, got)
	}
	t.Setenv(LongFreezeEnv, "soon")
	if got := longFreeze(); got != 5*time.Minute {
		t.Errorf("longFreeze() with a bad value = %v, want 5m", got)
	}
}

func TestPlanLabs_SpareScenariosGetTheirOwnLabAndRideOnlyOnesWaitForRide(t *testing.T) {
	scs, err := SelectScenarios("leader-sigkill,leader-api-and-peers-cut,etcd-frozen-join-cut,service-created")
	if err != nil {
		t.Fatal(err)
	}
	names := func(labs []labRun) [][]string {
		var out [][]string
		for _, lr := range labs {
			row := []string{strings.Repeat("n", lr.nodes) + "+" + strings.Repeat("s", lr.spare)}
			for _, sc := range lr.scenarios {
				row = append(row, sc.Name)
			}
			out = append(out, row)
		}
		return out
	}
	labs, skipped := planLabs(scs, RideTiming, 3)
	want := [][]string{{"nnn+", "leader-sigkill", "leader-api-and-peers-cut", "service-created"}, {"nnn+s", "etcd-frozen-join-cut"}}
	if diff := cmp.Diff(want, names(labs)); diff != "" || len(skipped) != 0 {
		t.Errorf("ride: labs (-want +got):\n%s skipped %v", diff, skipped)
	}
	labs, skipped = planLabs(scs, FastTiming, 3)
	want = [][]string{{"nnn+", "leader-sigkill", "service-created"}}
	if diff := cmp.Diff(want, names(labs)); diff != "" {
		t.Errorf("fast: labs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"leader-api-and-peers-cut", "etcd-frozen-join-cut"}, skipped); diff != "" {
		t.Errorf("fast: skipped (-want +got):\n%s", diff)
	}
}

func TestHandover_LeaderGoneAtItsFenceThenTheSuccessor(t *testing.T) {
	cut := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return cut.Add(time.Duration(ms) * time.Millisecond) }
	segs := []Segment{
		{Start: at(-2000), Last: at(1100), Nodes: []string{"node-1"}},
		{Start: at(1200), Last: at(2100), Nodes: nil},
		{Start: at(2200), Last: at(9000), Nodes: []string{"node-2"}},
	}
	h := handover(segs, "node-1", cut)
	if h.gone != 1200*time.Millisecond || h.successor != 2200*time.Millisecond || h.who != "node-2" {
		t.Errorf("handover = %+v, want gone 1.2s, node-2 at 2.2s", h)
	}
	for _, c := range h.checks(RideTiming) {
		if !c.Pass {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}
	split := []Segment{segs[0], {Start: at(1200), Last: at(1500), Nodes: []string{"node-1", "node-2"}}, {Start: at(1600), Last: at(9000), Nodes: []string{"node-2"}}}
	h = handover(split, "node-1", cut)
	if h.gone != 1600*time.Millisecond || h.successor != 1200*time.Millisecond {
		t.Errorf("overlapping handover = %+v, want gone 1.6s, successor 1.2s", h)
	}
	if c := h.checks(RideTiming); c[0].Pass {
		t.Errorf("an overlap passed %q: %s", c[0].Name, c[0].Detail)
	}
	if c := handover(segs[:1], "node-1", cut).checks(RideTiming); len(c) != 2 || c[1].Pass {
		t.Errorf("no successor: checks %+v, want a failed successor check", c)
	}
}

func TestMarkdown_ListsTheChecksOfEachTiming(t *testing.T) {
	rep := &Report{Results: []Result{{Scenario: "wrong-peer-key", Timing: "ride", Checks: []Check{
		{Name: "is never vouched for", Pass: true, Detail: "node-2 accepted 0"},
		{Name: "never vouches", Detail: "node-1 dropped 0"}}}}}
	md := markdown(rep)
	for _, want := range []string{"- wrong-peer-key: **pass** is never vouched for: node-2 accepted 0", "- wrong-peer-key: **FAIL** never vouches: node-1 dropped 0"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}
