package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Config is every setting of the daemon.
type Config struct {
	Kubeconfig        string
	NodeName          string
	Interface         string
	Namespace         string
	LeaseDuration     time.Duration
	RenewDeadline     time.Duration
	RetryPeriod       time.Duration
	MetricsAddr       string
	HealthAddr        string
	LoadBalancerClass string
	DefaultClass      bool
	LogLevel          string
	LogFormat         string
	LeaseQPS          float64
	LeaseBurst        int
	StopTimeout       time.Duration
	BGP               BGPConfig // bgp.go
}

// EnvPrefix starts the environment variable of every flag: --lease-duration is
// VIPKEEPER_LEASE_DURATION.
const EnvPrefix = "VIPKEEPER_"

// Bind registers every setting as a flag on fs, with the defaults.
func (c *Config) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster)")
	fs.StringVar(&c.NodeName, "node-name", os.Getenv("NODE_NAME"), "this node's name, the Lease holder identity (default $NODE_NAME)")
	fs.StringVar(&c.Interface, "interface", "", "interface that carries the VIPs (default: the one whose connected route covers the VIP)")
	fs.StringVar(&c.Namespace, "namespace", "vipkeeper-system", "namespace of the VIP Leases")
	fs.DurationVar(&c.LeaseDuration, "lease-duration", 15*time.Second, "how long a candidate waits on an unchanged Lease before taking it")
	fs.DurationVar(&c.RenewDeadline, "renew-deadline", 10*time.Second, "a leader withdraws this long after the start of its last successful renew")
	fs.DurationVar(&c.RetryPeriod, "retry-period", 2*time.Second, "renew interval")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", ":9472", "Prometheus metrics listen address (empty: off)")
	fs.StringVar(&c.HealthAddr, "health-addr", ":9473", "/livez and /readyz listen address (empty: off)")
	fs.StringVar(&c.LoadBalancerClass, "load-balancer-class", "vipkeeper.io/lb", "spec.loadBalancerClass served")
	fs.BoolVar(&c.DefaultClass, "default-class", false, "also serve LoadBalancer Services without a class")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.Float64Var(&c.LeaseQPS, "lease-qps", 500, "ceiling on Lease requests per second from this node (its own rate limiter; a holder of N VIPs renews N / retry-period per second)")
	fs.IntVar(&c.LeaseBurst, "lease-burst", 1000, "Lease request burst")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 5*time.Second, "on SIGTERM: time to withdraw every VIP and release its Lease")
	c.BGP.bind(fs)
}

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

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	add := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	add(c.NodeName != "", "--node-name is empty: set it or $NODE_NAME (the downward API's spec.nodeName)")
	add(c.Namespace != "", "--namespace is empty")
	add(c.LoadBalancerClass != "", "--load-balancer-class is empty")
	add(c.LeaseDuration >= c.RenewDeadline+2*time.Second, "--lease-duration %v must be at least 2s longer than --renew-deadline %v (docs/safety.md)", c.LeaseDuration, c.RenewDeadline)
	add(float64(c.RenewDeadline) > 1.2*float64(c.RetryPeriod), "--renew-deadline %v must be longer than 1.2 x --retry-period %v", c.RenewDeadline, c.RetryPeriod)
	add(c.RenewDeadline >= 2*time.Second, "--renew-deadline %v must be at least 2s (kernel address lifetimes count whole seconds)", c.RenewDeadline)
	add(c.RetryPeriod > 0, "--retry-period %v must be positive", c.RetryPeriod)
	add(c.LeaseQPS > 0 && c.LeaseBurst > 0, "--lease-qps %v and --lease-burst %d must be positive", c.LeaseQPS, c.LeaseBurst)
	add(c.StopTimeout > 0, "--stop-timeout %v must be positive", c.StopTimeout)
	if err := c.BGP.validate(); err != nil {
		errs = append(errs, err)
	}
	_, err := c.level()
	add(err == nil, "--log-level %q: want debug, info, warn or error", c.LogLevel)
	add(c.LogFormat == "json" || c.LogFormat == "text", "--log-format %q: want json or text", c.LogFormat)
	return errors.Join(errs...)
}

func (c Config) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.LogLevel))
	return l, err
}

// Logger returns the configured logger writing to w.
func (c Config) Logger(w *os.File) *slog.Logger {
	lvl, _ := c.level()
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
