package app

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// Timing is the election timing; it reaches every election: the agents' per-VIP elections
// and the controller role's client-go leader election.
type Timing struct {
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// DefaultTiming is client-go's and the field's (docs/design.md, "The timing trade").
var DefaultTiming = Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// RideTiming is the agent's default with the ride-through (--peer-key-dir): a hard node
// death fails over within 2 s, and peers' attestations carry the VIPs through a control
// plane outage (docs/design.md, "Ride-through timings").
var RideTiming = Timing{LeaseDuration: 2 * time.Second, RenewDeadline: 1200 * time.Millisecond, RetryPeriod: 400 * time.Millisecond}

// timingFlags are the flags of Timing: set by hand, they override RideTiming.
var timingFlags = []string{"lease-duration", "renew-deadline", "retry-period"}

// timingRules says which rules the timing must meet.
type timingRules int

const (
	kernelLifetimes timingRules = iota // agent: addresses fenced by kernel lifetimes (whole seconds)
	nftFence                           // agent with the ride-through: the nftables fence (milliseconds; election.Config checks the rest)
	leaderOnly                         // controller: client-go's ratios
)

func (t *Timing) bind(fs *flag.FlagSet) {
	fs.DurationVar(&t.LeaseDuration, "lease-duration", DefaultTiming.LeaseDuration, "how long a candidate waits on an unchanged Lease before taking it")
	fs.DurationVar(&t.RenewDeadline, "renew-deadline", DefaultTiming.RenewDeadline, "a leader withdraws this long after the start of its last successful renew")
	fs.DurationVar(&t.RetryPeriod, "retry-period", DefaultTiming.RetryPeriod, "renew interval")
}

// validate holds the one copy of the ratio rules (docs/safety.md says why).
func (t Timing) validate(add func(bool, string, ...any), rules timingRules) {
	add(t.LeaseDuration > t.RenewDeadline, "--lease-duration %v must be longer than --renew-deadline %v", t.LeaseDuration, t.RenewDeadline)
	add(float64(t.RenewDeadline) > 1.2*float64(t.RetryPeriod), "--renew-deadline %v must be longer than 1.2 x --retry-period %v", t.RenewDeadline, t.RetryPeriod)
	add(t.RetryPeriod > 0, "--retry-period %v must be positive", t.RetryPeriod)
	add(t.LeaseDuration >= time.Second, "--lease-duration %v must be at least 1s (Leases count whole seconds)", t.LeaseDuration)
	if rules == kernelLifetimes {
		add(t.LeaseDuration >= t.RenewDeadline+2*time.Second, "--lease-duration %v must be at least 2s longer than --renew-deadline %v (docs/safety.md; --peer-key-dir enables the nftables fence, which needs less)", t.LeaseDuration, t.RenewDeadline)
		add(t.RenewDeadline >= 2*time.Second, "--renew-deadline %v must be at least 2s (kernel address lifetimes count whole seconds; --peer-key-dir enables the nftables fence, which needs less)", t.RenewDeadline)
	}
}

// Common are the settings of both roles.
type Common struct {
	Kubeconfig        string
	Namespace         string
	Timing            Timing
	MetricsAddr       string
	HealthAddr        string
	Pprof             bool
	Ride              RideConfig // ride.go
	LoadBalancerClass string
	DefaultClass      bool
	IgnoreExcludeLB   bool
	Log               LogConfig
}

func (c *Common) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster)")
	fs.StringVar(&c.Namespace, "namespace", "vipkeeper-system", "namespace of vipkeeper's Leases")
	c.Timing.bind(fs)
	c.Ride.bind(fs)
	fs.StringVar(&c.MetricsAddr, "metrics-addr", ":9472", "Prometheus metrics listen address (empty: off)")
	fs.StringVar(&c.HealthAddr, "health-addr", ":9473", "/livez and /readyz listen address (empty: off)")
	fs.BoolVar(&c.Pprof, "pprof", false, "also serve Go's profiles (/debug/pprof/) on the metrics address; they expose internals")
	fs.StringVar(&c.LoadBalancerClass, "load-balancer-class", "vipkeeper.io/lb", "spec.loadBalancerClass served")
	fs.BoolVar(&c.DefaultClass, "default-class", false, "also serve LoadBalancer Services without a class")
	fs.BoolVar(&c.IgnoreExcludeLB, "ignore-exclude-lb", false, "nodes labelled node.kubernetes.io/exclude-from-external-load-balancers may announce VIPs too (control-plane-only clusters)")
	c.Log.Bind(fs)
}

func (c Common) validate(add func(bool, string, ...any), rules timingRules) {
	add(c.Namespace != "", "--namespace is empty")
	add(c.LoadBalancerClass != "", "--load-balancer-class is empty")
	c.Timing.validate(add, rules)
	c.Ride.validate(add)
	c.Log.validate(add)
}

// AgentConfig is every setting of `vipkeeper agent` (the DaemonSet).
type AgentConfig struct {
	Common
	NodeName    string
	Interface   string
	LeaseQPS    float64
	LeaseBurst  int
	StopTimeout time.Duration
	BGP         BGPConfig  // bgp.go
	Peer        PeerConfig // ride.go
}

// Bind registers every setting as a flag on fs, with the defaults.
func (c *AgentConfig) Bind(fs *flag.FlagSet) {
	c.Common.bind(fs)
	fs.StringVar(&c.NodeName, "node-name", os.Getenv("NODE_NAME"), "this node's name, the Lease holder identity (default $NODE_NAME)")
	fs.StringVar(&c.Interface, "interface", "", "interface that carries the VIPs (default: the one whose connected route covers the VIP)")
	fs.Float64Var(&c.LeaseQPS, "lease-qps", 500, "ceiling on Lease requests per second from this node (its own rate limiter; in steady state a node writes only its presence, once per retry period)")
	fs.IntVar(&c.LeaseBurst, "lease-burst", 1000, "Lease request burst")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 5*time.Second, "on SIGTERM: time to withdraw every VIP and release its Lease")
	c.BGP.bind(fs)
	c.Peer.bind(fs)
}

// Resolve applies the defaults that depend on other settings: with the ride-through, the
// timing flags left unset take RideTiming. set reports whether a flag was given (on the
// command line or in the environment).
func (c *AgentConfig) Resolve(set func(name string) bool) {
	if c.Peer.KeyDir == "" {
		return
	}
	for i, d := range []*time.Duration{&c.Timing.LeaseDuration, &c.Timing.RenewDeadline, &c.Timing.RetryPeriod} {
		if !set(timingFlags[i]) {
			*d = []time.Duration{RideTiming.LeaseDuration, RideTiming.RenewDeadline, RideTiming.RetryPeriod}[i]
		}
	}
}

// Validate reports every invalid setting at once.
func (c AgentConfig) Validate() error {
	return collect(func(add func(bool, string, ...any)) {
		add(c.NodeName != "", "--node-name is empty: set it or $NODE_NAME (the downward API's spec.nodeName)")
		rules := kernelLifetimes
		if c.Peer.KeyDir != "" {
			rules = nftFence
		}
		c.Common.validate(add, rules)
		c.Peer.validate(add, c.BGP.Enabled)
		add(c.LeaseQPS > 0 && c.LeaseBurst > 0, "--lease-qps %v and --lease-burst %d must be positive", c.LeaseQPS, c.LeaseBurst)
		add(c.StopTimeout > 0, "--stop-timeout %v must be positive", c.StopTimeout)
		if err := c.BGP.validate(); err != nil {
			add(false, "%v", err)
		}
	})
}

// ControllerConfig is every setting of `vipkeeper controller` (the Deployment).
type ControllerConfig struct {
	Common
	Identity string
}

// Bind registers every setting as a flag on fs, with the defaults.
func (c *ControllerConfig) Bind(fs *flag.FlagSet) {
	c.Common.bind(fs)
	fs.StringVar(&c.Identity, "identity", defaultIdentity(), "this replica in the controller election (default $POD_NAME, else the host name)")
}

// Validate reports every invalid setting at once.
func (c ControllerConfig) Validate() error {
	return collect(func(add func(bool, string, ...any)) {
		add(c.Identity != "", "--identity is empty: set it or $POD_NAME")
		c.Common.validate(add, leaderOnly)
	})
}

func defaultIdentity() string {
	if p := os.Getenv("POD_NAME"); p != "" {
		return p
	}
	h, _ := os.Hostname()
	return h
}

func collect(check func(add func(bool, string, ...any))) error {
	var errs []error
	check(func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	})
	return errors.Join(errs...)
}

// EnvPrefix starts the environment variable of every flag: --lease-duration is
// VIPKEEPER_LEASE_DURATION.
const EnvPrefix = "VIPKEEPER_"

// ApplyEnv sets every flag not given on the command line from its environment variable.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(EnvName(f.Name))
		if set[f.Name] || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
		}
	})
	return errors.Join(errs...)
}

// EnvName is the environment variable for a flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
