package lab

import (
	"bytes"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRenderCmd_DefaultTemplateRunsVipkeeperWithTheLabTiming(t *testing.T) {
	got, err := renderCmd(DefaultDaemonCmd, DaemonArgs{Bin: "/b/vipkeeper", Node: "node-2",
		Kubeconfig: "/lab/node-2.kubeconfig", Interface: "eth0", Namespace: "vipkeeper-system",
		HealthAddr: "203.0.113.3:9473", MetricsAddr: "203.0.113.3:9472",
		LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/b/vipkeeper", "agent", "--node-name=node-2", "--kubeconfig=/lab/node-2.kubeconfig",
		"--interface=eth0", "--namespace=vipkeeper-system",
		"--lease-duration=5s", "--renew-deadline=3s", "--retry-period=1s",
		"--health-addr=203.0.113.3:9473", "--metrics-addr=203.0.113.3:9472", "--log-format=text"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
}

func TestRenderCmd_DefaultControllerTemplateRunsTheControllerRoleWithTheLabTiming(t *testing.T) {
	got, err := renderCmd(DefaultControllerCmd, DaemonArgs{Bin: "/b/vipkeeper", Node: "lab-controller",
		Kubeconfig: "/lab/controller.kubeconfig", Namespace: "vipkeeper-system",
		HealthAddr: "203.0.113.1:9473", MetricsAddr: "203.0.113.1:9472",
		LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/b/vipkeeper", "controller", "--identity=lab-controller", "--kubeconfig=/lab/controller.kubeconfig",
		"--namespace=vipkeeper-system", "--lease-duration=5s", "--renew-deadline=3s", "--retry-period=1s",
		"--health-addr=203.0.113.1:9473", "--metrics-addr=203.0.113.1:9472", "--log-format=text"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
}

func TestConfigValidate_NamesEveryBadSetting(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "too many nodes", cfg: Config{Nodes: MaxNodes + 1}, want: []string{"nodes 21"}},
		{name: "unknown template field", cfg: Config{DaemonCmd: "{{.Nope}}"}, want: []string{"daemon command template"}},
		{name: "empty command", cfg: Config{DaemonCmd: "  "}, want: []string{"empty command"}},
		{name: "two at once", cfg: Config{Nodes: -1, ProbeInterval: time.Millisecond},
			want: []string{"nodes -1", "probe interval"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestParseFlags_TimingPresetsAndBadInput(t *testing.T) {
	o, err := parseFlags([]string{"--nodes=10", "--timing=fast", "--duration=3s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Nodes != 10 || o.cfg.Timing != FastTiming || o.duration != 3*time.Second {
		t.Errorf("got nodes %d timing %+v duration %v", o.cfg.Nodes, o.cfg.Timing, o.duration)
	}
	for _, args := range [][]string{{"--timing=slow"}, {"--nodes=0"}, {"extra"}, {"--daemon-cmd={{"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) = nil error", args)
		}
	}
}

func TestLabCommand_BadFlagsExitTwoWithoutStartingAnything(t *testing.T) {
	var out bytes.Buffer
	if code := Main(t.Context(), []string{"--timing=slow"}, &out); code != 2 {
		t.Errorf("Main(--timing=slow) = %d, want 2", code)
	}
}

func TestPlan_NamesFitInterfaceNamesAndAddressesDoNotOverlap(t *testing.T) {
	p := plan{id: "abcdef", slot: mgmtSlots - 1, nodes: MaxNodes}
	for _, name := range []string{p.hostBridge(), p.hostVeth(MaxNodes), p.lanPort(MaxNodes)} {
		if len(name) > 15 {
			t.Errorf("interface name %q is longer than 15 characters", name)
		}
	}
	seen := map[netip.Addr]string{}
	add := func(a netip.Addr, what string) {
		if prev, dup := seen[a]; dup {
			t.Errorf("%s and %s share %s", prev, what, a)
		}
		seen[a] = what
	}
	add(p.hostMgmtIP(), "host")
	v4, v6 := clientSources()
	for k := range v4 {
		add(v4[k], "client")
		add(v6[k], "client")
	}
	for i := 1; i <= MaxNodes; i++ {
		add(p.nodeMgmtIP(i), NodeName(i)+" mgmt")
		add(nodeIPv4(i), NodeName(i))
		add(nodeIPv6(i), NodeName(i))
		if !p.mgmtNet().Contains(p.nodeMgmtIP(i)) {
			t.Errorf("%s mgmt %s outside %s", NodeName(i), p.nodeMgmtIP(i), p.mgmtNet())
		}
	}
	add(VIP4(0), "first VIP")
	add(VIP6(0), "first VIP")
	if got := p.mgmtNet().String(); got != "203.0.113.224/27" {
		t.Errorf("last slot = %s, want 203.0.113.224/27", got)
	}
}

func TestSampleServices_OneLocalAndOneIPv6OnAnyNodeCount(t *testing.T) {
	for _, nodes := range [][]string{{"node-1"}, {"node-1", "node-2", "node-3"}} {
		var local, v6 int
		for _, s := range SampleServices(nodes) {
			if s.Local {
				local++
				if len(s.Endpoints) != 1 {
					t.Errorf("%d nodes: local service has %d endpoints, want 1", len(nodes), len(s.Endpoints))
				}
			}
			if s.VIPs[0].Is6() {
				v6++
			}
		}
		if local != 1 || v6 != 1 {
			t.Errorf("%d nodes: %d Local and %d IPv6 services, want 1 and 1", len(nodes), local, v6)
		}
	}
}
