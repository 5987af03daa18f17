package app

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args []string, env map[string]string) Config {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("vipkeeper", flag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfig_DefaultsAreValidOnceNodeNameIsSet(t *testing.T) {
	c := parse(t, []string{"--node-name=n1"}, nil)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.LeaseDuration != 15*time.Second || c.RenewDeadline != 10*time.Second || c.RetryPeriod != 2*time.Second {
		t.Errorf("timing defaults = %v/%v/%v, want 15s/10s/2s", c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)
	}
}

func TestConfig_EnvironmentFillsFlagsNotGiven(t *testing.T) {
	env := map[string]string{"VIPKEEPER_LEASE_DURATION": "5s", "VIPKEEPER_NODE_NAME": "env-node", "VIPKEEPER_RETRY_PERIOD": "1s"}
	c := parse(t, []string{"--node-name=flag-node", "--renew-deadline=3s"}, env)
	if c.NodeName != "flag-node" || c.LeaseDuration != 5*time.Second || c.RetryPeriod != time.Second || c.RenewDeadline != 3*time.Second {
		t.Errorf("got node %q lease %v retry %v renew %v", c.NodeName, c.LeaseDuration, c.RetryPeriod, c.RenewDeadline)
	}
}

func TestConfig_BadEnvironmentValueIsAnErrorNamingTheVariable(t *testing.T) {
	var c Config
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
