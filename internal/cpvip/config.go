package cpvip

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Protocol marks the control-plane VIP in IFA_PROTO ('C'), apart from the Service agent's
// 0x56, so neither's start-up sweep removes the other's address (Linux >= 6.1; older
// kernels tell them apart by nothing, see docs/control-plane.md).
const Protocol uint8 = 0x43

// The control-plane mode's timing defaults (docs/control-plane.md, "Timings"): the
// renew deadline rides out an etcd leader election (1-3 s) and a slow write; the lease
// duration is the least the kernel fencing allows above it (election.MinFenceGap), so a
// node that dies without a word is replaced after about 6 s instead of 15 s.
const (
	DefaultLeaseDuration = 6 * time.Second
	DefaultRenewDeadline = 4 * time.Second
	DefaultRetryPeriod   = time.Second
)

// Config is every setting of `vipkeeper control-plane`.
type Config struct {
	VIP           netip.Addr
	Interface     string
	Kubeconfig    string // on the host: admin.conf, super-admin.conf during kubeadm init (1.29+)
	Server        string // the local kube-apiserver; overrides the kubeconfig's server
	TLSServerName string // name the local serving certificate is verified for
	NodeName      string
	Namespace     string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	Health        Thresholds
	PeerRelease   bool // release through the other API servers when the local one is down
	HealthAddr    string
	StopTimeout   time.Duration
	LogLevel      string
	LogFormat     string
}

// Bind registers every setting as a flag on fs, with the defaults.
func (c *Config) Bind(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	if n := os.Getenv("NODE_NAME"); n != "" {
		host = n
	}
	fs.Func("vip", "the control-plane VIP (kubeadm's controlPlaneEndpoint), required", func(s string) error {
		a, err := netip.ParseAddr(s)
		c.VIP = a
		return err
	})
	fs.StringVar(&c.Interface, "interface", "", "interface that carries the VIP (default: the one whose connected route covers it)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "/etc/kubernetes/admin.conf", "kubeconfig on the host (kubeadm >= 1.29: super-admin.conf while the first node runs kubeadm init)")
	fs.StringVar(&c.Server, "server", "https://127.0.0.1:6443", "this node's own kube-apiserver (replaces the kubeconfig's server, which is the VIP itself)")
	fs.StringVar(&c.TLSServerName, "tls-server-name", "kubernetes", "name to verify the local serving certificate for (kubeadm's certificates always carry \"kubernetes\"; empty: the server's host)")
	fs.StringVar(&c.NodeName, "node-name", host, "this node's name, the Lease holder identity (default $NODE_NAME, else the hostname)")
	fs.StringVar(&c.Namespace, "namespace", "kube-system", "namespace of the VIP Lease: one that exists before any add-on")
	fs.DurationVar(&c.LeaseDuration, "lease-duration", DefaultLeaseDuration, "how long a candidate waits on an unchanged Lease before taking it")
	fs.DurationVar(&c.RenewDeadline, "renew-deadline", DefaultRenewDeadline, "the holder withdraws this long after the start of its last successful renew")
	fs.DurationVar(&c.RetryPeriod, "retry-period", DefaultRetryPeriod, "renew interval")
	fs.DurationVar(&c.ProbeInterval, "probe-interval", 500*time.Millisecond, "how often the local /readyz is asked")
	fs.DurationVar(&c.ProbeTimeout, "probe-timeout", time.Second, "timeout of one /readyz probe")
	fs.IntVar(&c.Health.FallCount, "fall-count", DefaultThresholds.FallCount, "consecutive failed probes that make this node ineligible")
	fs.DurationVar(&c.Health.Rise, "rise", DefaultThresholds.Rise, "unbroken success needed before an ineligible node is a candidate again")
	fs.IntVar(&c.Health.StartCount, "start-count", DefaultThresholds.StartCount, "consecutive successes that make a fresh process a candidate")
	fs.BoolVar(&c.PeerRelease, "peer-release", true, "when the local kube-apiserver is down, release the Lease through another control-plane node's (from the kubernetes EndpointSlice)")
	fs.StringVar(&c.HealthAddr, "health-addr", ":9475", "/livez, /readyz and /metrics listen address (empty: off)")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", 5*time.Second, "on SIGTERM: time to withdraw the VIP and release its Lease")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	add := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	add(c.VIP.IsValid() && c.VIP.IsGlobalUnicast(), "--vip %q: want a unicast IP address", c.VIP)
	add(c.Kubeconfig != "", "--kubeconfig is empty: the control-plane mode needs a kubeconfig on the host")
	add(strings.HasPrefix(c.Server, "https://"), "--server %q: want https://host:port", c.Server)
	add(c.NodeName != "", "--node-name is empty: set it or $NODE_NAME")
	add(c.Namespace != "", "--namespace is empty")
	add(c.ProbeInterval >= 50*time.Millisecond, "--probe-interval %v: want at least 50ms", c.ProbeInterval)
	add(c.ProbeTimeout > 0, "--probe-timeout %v: want a positive duration", c.ProbeTimeout)
	add(c.StopTimeout > 0, "--stop-timeout %v: want a positive duration", c.StopTimeout)
	add(c.LogFormat == "json" || c.LogFormat == "text", "--log-format %q: want json or text", c.LogFormat)
	var lvl slog.Level
	add(lvl.UnmarshalText([]byte(c.LogLevel)) == nil, "--log-level %q: want debug, info, warn or error", c.LogLevel)
	if err := c.Health.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.election().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// election is the election core's configuration for these timings.
func (c Config) election() election.Config {
	ec := election.DefaultConfig(c.NodeName)
	ec.LeaseDuration, ec.RenewDeadline, ec.RetryPeriod = c.LeaseDuration, c.RenewDeadline, c.RetryPeriod
	return ec
}

// Logger returns the logger the settings ask for, writing to w.
func (c Config) Logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
