package lab

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// MaxNodes bounds Config.Nodes: node i gets 198.51.100.(10+i), below the VIP range.
const MaxNodes = 20

// Timing is the election timing handed to every daemon.
type Timing struct {
	Name          string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// Ride turns the peer channel on (issue 11, ride-through): the lab writes one peer key
	// per lab and runs every agent with --peer-key-dir, --peer-listen and --peer-advertise
	// on its data address (ride.go).
	Ride bool
}

// The timing presets: client-go's defaults, the fast set the design also tests, and the
// ride-through defaults of issue 11 (the peer channel on).
var (
	DefaultTiming = Timing{Name: "default", LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	FastTiming    = Timing{Name: "fast", LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second}
	RideTiming    = Timing{Name: "ride", LeaseDuration: 2 * time.Second, RenewDeadline: 1200 * time.Millisecond,
		RetryPeriod: 400 * time.Millisecond, Ride: true}
)

// ParseTiming returns the preset called name ("default", "fast", "bgp" or "ride").
func ParseTiming(name string) (Timing, error) {
	switch name {
	case DefaultTiming.Name, "":
		return DefaultTiming, nil
	case FastTiming.Name:
		return FastTiming, nil
	case BGPTiming.Name:
		return BGPTiming, nil
	case RideTiming.Name:
		return RideTiming, nil
	}
	return Timing{}, fmt.Errorf("timing %q: want default, fast, bgp or ride", name)
}

// DefaultDaemonCmd runs the real `vipkeeper agent` on a lab node. The rendered command is
// split on white space (no shell, no quoting) and run as `ip netns exec <node namespace> ...`.
// The peer flags appear only when the timing preset has the peer channel on (Timing.Ride).
const DefaultDaemonCmd = "{{.Bin}} agent --node-name={{.Node}} --kubeconfig={{.Kubeconfig}}" +
	" --interface={{.Interface}} --namespace={{.Namespace}}" +
	" --lease-duration={{.LeaseDuration}} --renew-deadline={{.RenewDeadline}} --retry-period={{.RetryPeriod}}" +
	" --health-addr={{.HealthAddr}} --metrics-addr={{.MetricsAddr}} --log-format=text" +
	"{{if .PeerKeyDir}} --peer-key-dir={{.PeerKeyDir}} --peer-listen={{.PeerListen}} --peer-advertise={{.PeerAdvertise}}{{end}}"

// DefaultControllerCmd runs the real `vipkeeper controller` (the allocator, Service status
// and cluster Events) in the host namespace, as the Deployment does in a cluster. {{.Node}}
// is its identity in the controller election; {{.Interface}} is unused.
const DefaultControllerCmd = "{{.Bin}} controller --identity={{.Node}} --kubeconfig={{.Kubeconfig}} --namespace={{.Namespace}}" +
	" --lease-duration={{.LeaseDuration}} --renew-deadline={{.RenewDeadline}} --retry-period={{.RetryPeriod}}" +
	" --health-addr={{.HealthAddr}} --metrics-addr={{.MetricsAddr}} --log-format=text"

// ControllerName is the lab controller's name: its identity and the name of its log.
const ControllerName = "controller"

// DaemonArgs are the fields a daemon command template may use.
type DaemonArgs struct {
	Bin           string // Config.DaemonBin
	Node          string // node name: the Node object and the Lease holder identity
	Kubeconfig    string // per-node kubeconfig (token of the DaemonSet's or Deployment's ServiceAccount)
	Interface     string // the data interface in the node's namespace: eth0
	Namespace     string // namespace of the VIP Leases
	HealthAddr    string // host:port on the node's management address
	MetricsAddr   string // host:port on the node's management address
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// The peer channel (Timing.Ride; empty otherwise): the key dir, and the UDP address on
	// the node's data interface that the daemon listens on and publishes in its presence
	// Lease. Peers talk over the data LAN, so cutting the management link leaves them.
	PeerKeyDir    string
	PeerListen    string // host:port
	PeerAdvertise string // host:port
}

// Config configures a Lab. Zero fields take the documented defaults.
type Config struct {
	Nodes     int    // simulated nodes, 1..MaxNodes; default 3
	Timing    Timing // default DefaultTiming
	DaemonCmd string // text/template over DaemonArgs; default DefaultDaemonCmd
	// ControllerCmd runs the controller role (text/template over DaemonArgs); default
	// DefaultControllerCmd.
	ControllerCmd string
	// DaemonBin is {{.Bin}}: default $VIPKEEPER_DAEMON_BIN, else bin/vipkeeper of the repository.
	DaemonBin string
	// Manifest is deploy/vipkeeper.yaml, whose objects (all but the DaemonSet and the
	// Deployment, whose processes the lab runs itself) are applied;
	// default: found from the working directory or the executable upwards.
	Manifest      string
	ControlPlane  testenv.Options // BinDir, StartTimeout; the lab sets BindAddress
	ProbeInterval time.Duration   // ARP/NDP probe round; default 100ms
	LeasePoll     time.Duration   // Lease list interval; default 500ms
	Logger        *slog.Logger    // the lab's own progress; default discards
	// BGP, when "frr" or "bird", adds a router between the node LAN and a second client
	// LAN and runs the daemons with --bgp (bgp_lab.go, docs/bgp.md).
	BGP string
	// Spare is how many of the Nodes (the last ones) are built and registered but whose
	// daemons neither Start nor a scenario's reset starts: a scenario's steps start them
	// (a node joining). Default 0.
	Spare int
}

func (c Config) withDefaults() Config {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Timing == (Timing{}) {
		c.Timing = DefaultTiming
	}
	if c.DaemonCmd == "" {
		c.DaemonCmd = DefaultDaemonCmd
	}
	if c.ControllerCmd == "" {
		c.ControllerCmd = DefaultControllerCmd
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 100 * time.Millisecond
	}
	if c.LeasePoll == 0 {
		c.LeasePoll = 500 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every invalid setting at once (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		errs = append(errs, fmt.Errorf("nodes %d: want 1..%d", c.Nodes, MaxNodes))
	}
	if c.Spare < 0 || c.Spare >= c.Nodes {
		errs = append(errs, fmt.Errorf("spare nodes %d: want 0..%d (fewer than the %d nodes)", c.Spare, max(0, c.Nodes-1), c.Nodes))
	}
	if c.ProbeInterval < 10*time.Millisecond || c.LeasePoll < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("probe interval %v and lease poll %v: want at least 10ms", c.ProbeInterval, c.LeasePoll))
	}
	if c.BGP != "" && c.BGP != RouterFRR && c.BGP != RouterBIRD {
		errs = append(errs, fmt.Errorf("bgp %q: want %s or %s", c.BGP, RouterFRR, RouterBIRD))
	}
	for _, tmpl := range []string{c.DaemonCmd, c.ControllerCmd} {
		if _, err := renderCmd(tmpl, DaemonArgs{Bin: "vipkeeper", Node: "node-1"}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// renderCmd fills the daemon command template and splits it into arguments.
func renderCmd(tmpl string, a DaemonArgs) ([]string, error) {
	t, err := template.New("daemon-cmd").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("daemon command template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, a); err != nil {
		return nil, fmt.Errorf("daemon command template: %w", err)
	}
	args := strings.Fields(b.String())
	if len(args) == 0 {
		return nil, errors.New("daemon command template: renders to an empty command")
	}
	return args, nil
}
