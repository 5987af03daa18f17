package election

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate_NamesTheOffendingField(t *testing.T) {
	fast := Config{Identity: "a", LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second,
		RetryPeriod: time.Second}.WithDefaults()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; nil = valid
	}{
		{name: "defaults are valid", mutate: func(*Config) {}},
		{name: "fast timings are valid", mutate: func(c *Config) { *c = fast }},
		{name: "empty identity", mutate: func(c *Config) { c.Identity = "" }, want: []string{"Identity"}},
		{name: "lease not longer than renew deadline",
			mutate: func(c *Config) { c.LeaseDuration = c.RenewDeadline }, want: []string{"LeaseDuration"}},
		{name: "renew deadline within 1.2 retry periods",
			mutate: func(c *Config) { c.RenewDeadline = 2400 * time.Millisecond }, want: []string{"1.2 x RetryPeriod"}},
		{name: "renew deadline under two seconds",
			mutate: func(c *Config) { c.RenewDeadline, c.RetryPeriod = time.Second, 100*time.Millisecond },
			want:   []string{"at least 2s"}},
		{name: "zero retry period", mutate: func(c *Config) { c.RetryPeriod = 0 }, want: []string{"RetryPeriod"}},
		{name: "negative spread", mutate: func(c *Config) { c.SpreadDelay = -1 }, want: []string{"SpreadDelay"}},
		{name: "attempt longer than its ceiling",
			mutate: func(c *Config) { c.AttemptTimeout = 16 * time.Second }, want: []string{"AttemptTimeout"}},
		{name: "negative attempt timeout", mutate: func(c *Config) { c.AttemptTimeout = -1 }, want: []string{"AttemptTimeout"}},
		{name: "slack and lateness past the takeover",
			mutate: func(c *Config) { c.KernelSlack = 4 * time.Second }, want: []string{"KernelSlack"}},
		{name: "ride window reaching the revocation wait", mutate: func(c *Config) {
			*c = rideConfig("a")
			c.Ride.Window = 1900 * time.Millisecond
		}, want: []string{"Ride.Window"}},
		{name: "ride with a fence past the revocation wait on a fast clock", mutate: func(c *Config) {
			*c = rideConfig("a")
			c.RenewDeadline, c.Ride.Window, c.Ride.ClockRate = 1800*time.Millisecond, time.Second, 0.03
		}, want: []string{"RenewDeadline", "ClockRate"}},
		{name: "ride with a clock-rate bound out of range", mutate: func(c *Config) {
			*c = rideConfig("a")
			c.Ride.ClockRate = 0.5
		}, want: []string{"Ride.ClockRate"}},
		{name: "ride at 2s/1.2s/0.4s with the nftables fence", mutate: func(c *Config) { *c = rideConfig("a") }},
		{name: "no request slot", mutate: func(c *Config) { c.MaxInflight = -1 }, want: []string{"MaxInflight"}},
		{name: "every problem is reported",
			mutate: func(c *Config) { c.Identity, c.SpreadDelay = "", -1 }, want: []string{"Identity", "SpreadDelay"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig("a")
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestNew_RejectsAnInvalidConfigNamingTheNode(t *testing.T) {
	c := DefaultConfig("node-7")
	c.LeaseDuration = time.Second
	if _, err := New(c); err == nil || !strings.Contains(err.Error(), `"node-7"`) {
		t.Fatalf("New() error = %v, want one naming node-7", err)
	}
}

func TestBackoff_RampsToItsCapAndJittersBelowIt(t *testing.T) {
	e, err := New(DefaultConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for fails := 1; fails <= 5; fails++ {
		got = append(got, e.backoff(fails, ClassTransient))
	}
	for fails := 1; fails <= 7; fails++ {
		got = append(got, e.backoff(fails, ClassPermanent))
	}
	s := time.Second
	// Permanent starts as fast as transient (a restarting kube-apiserver's brief 403s) and
	// ramps on to LeaseDuration.
	want := []time.Duration{s / 2, s, 2 * s, 2 * s, 2 * s, s / 2, s, 2 * s, 4 * s, 8 * s, 15 * s, 15 * s}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff without jitter (-want +got):\n%s", diff)
	}
	e.cfg.Rand = func() float64 { return 0.25 }
	if got := e.backoff(3, ClassTransient); got != 500*time.Millisecond {
		t.Errorf("backoff(3) with jitter 0.25 = %v, want 500ms", got)
	}
	e.cfg.Rand = func() float64 { return 7 } // out of range: clamped
	if got := e.backoff(9, ClassPermanent); got != 15*time.Second {
		t.Errorf("backoff with jitter 7 = %v, want the cap 15s", got)
	}
}

func TestStrings_NameEveryValue(t *testing.T) {
	var got []string
	for c := ClassNone; c <= ClassNotFound+1; c++ {
		got = append(got, c.String())
	}
	for o := Op(0); o <= OpRevoke; o++ {
		got = append(got, o.String())
	}
	got = append(got, Record{}.String(), Record{Exists: true, RV: "7", Holder: "b", Incarnation: "i"}.String(),
		Record{Exists: true, RV: "8", Terminating: true}.String())
	want := []string{"none", "conflict", "transient", "permanent", "notfound", "ErrClass(5)",
		"Op(0)", "create", "acquire", "renew", "release", "delete", "revoke",
		"absent", "rv=7 holder=b/i", "rv=8 holder=/ terminating"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
}

func TestStep_StaleResultIDsAreIgnored(t *testing.T) {
	e, err := New(DefaultConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	acts := e.Step(now, Observed{Ref: NodeRef("a"), Record: Record{}})
	w, ok := acts[0].(Write)
	if !ok || w.Op != OpCreate {
		t.Fatalf("first actions = %#v, want the presence create", acts)
	}
	stale := []Event{
		WriteDone{ID: w.ID + 1, Record: Record{Exists: true, RV: "1", Holder: "a", Incarnation: w.Incarnation, Token: w.Token}},
		ReadDone{ID: w.ID, Record: Record{Exists: true, RV: "1", Holder: "a"}}, // a read result for a write id
	}
	for _, ev := range stale {
		if got := e.Step(now, ev); len(got) != 0 || e.Registered() {
			t.Fatalf("Step(%#v) = %#v, registered=%v; want it ignored", ev, got, e.Registered())
		}
	}
}

// rideConfig is the ride-through at the new default timings with the nftables fence.
func rideConfig(id string) Config {
	return Config{Identity: id, LeaseDuration: 2 * time.Second, RenewDeadline: 1200 * time.Millisecond,
		RetryPeriod: 400 * time.Millisecond, MinLifetime: 10 * time.Millisecond,
		KernelSlack: 100 * time.Millisecond, KernelLateness: 50 * time.Millisecond,
		Ride: RideConfig{Cap: 5 * time.Minute}}
}

func TestConfig_UnackedWaitOutlastsTheCapOnTheFastestClock(t *testing.T) {
	c := rideConfig("a").WithDefaults()
	r := c.Ride.ClockRate
	// the rider's addresses stay at most (RD + X + KS)/(1-ρ) + KL of true time; the
	// unacknowledged wait lasts at least UnackedWait/(1+ρ) of it
	stay := float64(c.RenewDeadline+c.Ride.Cap+c.KernelSlack)/(1-r) + float64(c.KernelLateness)
	if wait := float64(c.UnackedWait()) / (1 + r); !(wait > stay) {
		t.Fatalf("UnackedWait %v lasts %v of true time at least, the ride up to %v", c.UnackedWait(),
			time.Duration(wait), time.Duration(stay))
	}
}
