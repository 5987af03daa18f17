package app

import (
	"errors"
	"flag"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/kubernetes/fake"
)

func parse(t *testing.T, args []string, env map[string]string) AgentConfig {
	t.Helper()
	c, _ := parseFS(t, args, env)
	return c
}

// parseFS is parse that also returns the flag set, for Resolve.
func parseFS(t *testing.T, args []string, env map[string]string) (AgentConfig, *flag.FlagSet) {
	t.Helper()
	var c AgentConfig
	fs := flag.NewFlagSet("vipkeeper", flag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	return c, fs
}

func TestConfig_DefaultsAreValidOnceNodeNameIsSet(t *testing.T) {
	c := parse(t, []string{"--node-name=n1"}, nil)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Timing != DefaultTiming {
		t.Errorf("timing defaults = %+v, want 15s/10s/2s", c.Timing)
	}
}

func TestConfig_EnvironmentFillsFlagsNotGiven(t *testing.T) {
	env := map[string]string{"VIPKEEPER_LEASE_DURATION": "5s", "VIPKEEPER_NODE_NAME": "env-node", "VIPKEEPER_RETRY_PERIOD": "1s"}
	c := parse(t, []string{"--node-name=flag-node", "--renew-deadline=3s"}, env)
	if c.NodeName != "flag-node" || c.Timing != (Timing{5 * time.Second, 3 * time.Second, time.Second}) {
		t.Errorf("got node %q timing %+v", c.NodeName, c.Timing)
	}
}

func TestConfig_BadEnvironmentValueIsAnErrorNamingTheVariable(t *testing.T) {
	var c AgentConfig
	fs := flag.NewFlagSet("vipkeeper", flag.ContinueOnError)
	c.Bind(fs)
	err := ApplyEnv(fs, func(k string) string {
		if k == "VIPKEEPER_LEASE_DURATION" {
			return "fifteen"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "VIPKEEPER_LEASE_DURATION") {
		t.Fatalf("err = %v, want one naming VIPKEEPER_LEASE_DURATION", err)
	}
}

func TestConfig_ValidateNamesEveryBadSetting(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no node name", nil, []string{"--node-name"}},
		{"lease not longer than renew", []string{"--node-name=n", "--lease-duration=10s"}, []string{"--lease-duration"}},
		{"lease under 2s longer than renew", []string{"--node-name=n", "--lease-duration=11s"}, []string{"at least 2s longer"}},
		{"renew too close to retry", []string{"--node-name=n", "--retry-period=9s"}, []string{"1.2 x --retry-period"}},
		{"renew under 2s", []string{"--node-name=n", "--lease-duration=3s", "--renew-deadline=1500ms", "--retry-period=1s"}, []string{"at least 2s"}},
		{"bgp router id not IPv4", []string{"--node-name=n", "--bgp", "--bgp-router-id=2001:db8::1"}, []string{"--bgp-router-id"}},
		{"two at once", []string{"--log-level=loud", "--log-format=xml", "--node-name=n"}, []string{"--log-level", "--log-format"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := parse(t, tc.args, nil).Validate()
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
}

func TestControllerConfig_TimingFlagsReachTheLeaderElection(t *testing.T) {
	var c ControllerConfig
	fs := flag.NewFlagSet("vipkeeper controller", flag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse([]string{"--identity=p", "--lease-duration=7s", "--renew-deadline=4s", "--retry-period=1500ms"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	lc := electionConfig(c, fake.NewClientset(), nil, nil, slog.New(slog.DiscardHandler))
	if lc.LeaseDuration != 7*time.Second || lc.RenewDeadline != 4*time.Second || lc.RetryPeriod != 1500*time.Millisecond ||
		lc.Identity != "p" || lc.Name != ControllerLease || lc.Namespace != "vipkeeper-system" {
		t.Errorf("leader config = %+v", lc)
	}
	if err := lc.Validate(); err != nil {
		t.Errorf("the flags' timing is not a valid leader election: %v", err)
	}
}

func TestAnnouncementCounter_CountsByFamilyAndResult(t *testing.T) {
	reg := prometheus.NewRegistry()
	sent := announcementCounter(reg)
	sent(netip.MustParseAddr("198.51.100.7"), "eth0", nil)
	sent(netip.MustParseAddr("198.51.100.7"), "eth0", nil)
	sent(netip.MustParseAddr("2001:db8::7"), "eth0", errors.New("no carrier"))
	want := `
# HELP vipkeeper_announcements_total Gratuitous ARP (family ipv4) and unsolicited Neighbor Advertisement (ipv6) announcements by result (sent, error).
# TYPE vipkeeper_announcements_total counter
vipkeeper_announcements_total{family="ipv4",result="error"} 0
vipkeeper_announcements_total{family="ipv4",result="sent"} 2
vipkeeper_announcements_total{family="ipv6",result="error"} 1
vipkeeper_announcements_total{family="ipv6",result="sent"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vipkeeper_announcements_total"); err != nil {
		t.Error(err)
	}
}
