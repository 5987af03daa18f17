package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const metricsText = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="UPDATE",version="v1"} 120
apiserver_request_total{code="409",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="UPDATE",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",group="coordination.k8s.io",resource="leases",verb="GET",version="v1"} 1.5e+01
apiserver_request_total{code="200",component="apiserver",group="",resource="services",verb="LIST",version="v1"} 99
apiserver_request_total{code="200",component="weird \"quoted\", {braced}",resource="leases",verb="LIST"} 4 1700000000000
apiserver_request_duration_seconds_bucket{resource="leases",verb="UPDATE",le="0.1"} 1000
apiserver_request_total{resource="leases",verb="CREATE"} not-a-number
apiserver_request_total{resource="leases",verb="DELETE" 5
`

func TestParseLeaseRequests_SumsLeaseCountersByVerbAndSkipsTheRest(t *testing.T) {
	got, err := ParseLeaseRequests(strings.NewReader(metricsText))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"PUT": 7, "UPDATE": 123, "GET": 15, "LIST": 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseLeaseRequests (-want +got):\n%s", diff)
	}
}

func TestRates_AreDeltasPerSecondOrFromZeroAfterACounterReset(t *testing.T) {
	tests := []struct {
		name          string
		before, after map[string]float64
		d, sinceReset time.Duration
		want          map[string]float64
	}{
		{name: "counters grew", before: map[string]float64{"UPDATE": 100, "GET": 10},
			after: map[string]float64{"UPDATE": 130, "GET": 10, "CREATE": 2}, d: 10 * time.Second,
			want: map[string]float64{"UPDATE": 3, "GET": 0, "CREATE": 0.2}},
		{name: "kube-apiserver restarted", before: map[string]float64{"UPDATE": 100},
			after: map[string]float64{"UPDATE": 8}, d: 30 * time.Second, sinceReset: 4 * time.Second,
			want: map[string]float64{"UPDATE": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Rates(tt.before, tt.after, tt.d, tt.sinceReset)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Rates (-want +got):\n%s", diff)
			}
		})
	}
	w, g := WritesAndGets(map[string]float64{"PUT": 3, "POST": 1, "GET": 0.5, "LIST": 2, "WATCH": 1})
	if w != 4 || g != 0.5 {
		t.Errorf("WritesAndGets = %v, %v; want 4, 0.5", w, g)
	}
}

func TestProcParsers_ReadRSSAndCPUTicksEvenWithParenthesesInTheName(t *testing.T) {
	rss, err := ParseVmRSS("Name:\tvipkeeper\nVmPeak:\t  900 kB\nVmRSS:\t   2048 kB\nThreads: 9\n")
	if err != nil || rss != 2048*1024 {
		t.Errorf("ParseVmRSS = %d, %v; want %d", rss, err, 2048*1024)
	}
	if _, err := ParseVmRSS("Name:\tx\n"); err == nil {
		t.Error("ParseVmRSS without VmRSS: no error")
	}
	stat := "42 (vip (keeper) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1234 0 0"
	cpu, err := ParseStatCPU(stat)
	if err != nil || cpu != 3*time.Second {
		t.Errorf("ParseStatCPU = %v, %v; want 3s (300 ticks)", cpu, err)
	}
	if _, err := ParseStatCPU("42 (x) S 1"); err == nil {
		t.Error("ParseStatCPU of a short line: no error")
	}
	t0 := time.Now()
	if got := CPUPercent(ProcSample{At: t0}, ProcSample{At: t0.Add(10 * time.Second), CPU: 2 * time.Second}); got != 20 {
		t.Errorf("CPUPercent = %v, want 20", got)
	}
}

func TestParseScaleGroups_AcceptsGrowingCountsAndRejectsTheRest(t *testing.T) {
	got, err := ParseScaleGroups("3:100/300/1000,10:1000")
	want := []ScaleGroup{{Nodes: 3, VIPs: []int{100, 300, 1000}}, {Nodes: 10, VIPs: []int{1000}}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ParseScaleGroups = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"3", "0:10", "3:300/100", "3:x", "99:10"} {
		if _, err := ParseScaleGroups(bad); err == nil {
			t.Errorf("ParseScaleGroups(%q): no error", bad)
		}
	}
	if g, err := ParseScaleGroups("none"); g != nil || err != nil {
		t.Errorf("ParseScaleGroups(none) = %v, %v", g, err)
	}
	if ScaleVIP(0).String() != "2001:db8:1::1:0" || ScaleVIP(999).String() != "2001:db8:1::1:3e7" {
		t.Errorf("ScaleVIP: %v, %v", ScaleVIP(0), ScaleVIP(999))
	}
}

func TestSelectScenarios_KeepsReportOrderAndNamesUnknownOnes(t *testing.T) {
	got, err := SelectScenarios("leader-sigkill,etcd-frozen-8s")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "etcd-frozen-8s" || got[1].Name != "leader-sigkill" {
		t.Errorf("SelectScenarios order: %v", got)
	}
	if _, err := SelectScenarios("leader-sigkill,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown scenario: err = %v", err)
	}
	for _, sc := range Scenarios() {
		for _, tm := range []Timing{DefaultTiming, FastTiming, RideTiming} {
			if steps := sc.Steps(tm, 3); len(steps) == 0 || steps[0].Window != Opens {
				t.Errorf("%s (%s): first step must open a fault window: %+v", sc.Name, tm.Name, steps)
			}
		}
	}
}

func TestBenchMain_ListsScenariosAndRejectsBadFlagsWithoutStartingALab(t *testing.T) {
	var out strings.Builder
	if code := Main(t.Context(), []string{"scenarios", "--list"}, &out); code != 0 {
		t.Fatalf("lab scenarios --list = %d", code)
	}
	for _, name := range ScenarioNames() {
		if !strings.Contains(out.String(), name) {
			t.Errorf("--list lacks %s:\n%s", name, out.String())
		}
	}
	for _, args := range [][]string{{"--only", "nope"}, {"--timings", "slow"}, {"--scale", "3:300/100"}, {"extra"}} {
		if code := Main(t.Context(), append([]string{"bench"}, args...), &out); code != 2 {
			t.Errorf("lab bench %v = %d, want 2", args, code)
		}
	}
}
