package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// LeaseStore is the Lease API as the loop uses it (lease.Store): one request per call,
// bounded by ctx, answered in the core's terms.
type LeaseStore interface {
	Do(ctx context.Context, w election.Write) (election.Record, election.ErrClass, error)
	Get(ctx context.Context, ref election.Ref) (election.Record, election.ErrClass, error)
}

// LeaseSource delivers changes of our Leases (lease.Source).
type LeaseSource interface {
	// Start registers h and runs until ctx ends; it returns once its cache is synced.
	Start(ctx context.Context, h lease.Handler) error
	// Each calls f for every cached record.
	Each(f func(ref election.Ref, rec election.Record, rv string))
	// Cached is the cached record of ref and its resourceVersion ("" when absent).
	Cached(ref election.Ref) (election.Record, string)
}

// Dataplane puts VIPs on the node and takes them off (announce.Announcer).
type Dataplane interface {
	Add(ctx context.Context, a announce.Address) error
	Remove(ctx context.Context, ip netip.Addr) error
	// Set makes the VIPs on the node exactly desired: Set(ctx, nil) is the start-up sweep.
	Set(ctx context.Context, desired []announce.Address) error
}

// Notifier tells the Services that use a VIP what happened to it (Kubernetes Events).
type Notifier interface {
	Announced(ip netip.Addr, svcs []types.NamespacedName)
	Withdrawn(ip netip.Addr, svcs []types.NamespacedName, reason string)
	Problem(ip netip.Addr, svcs []types.NamespacedName, reason, msg string)
}

// Config wires a Daemon.
type Config struct {
	Election    election.Config // timing; Identity is the node name
	Namespace   string
	Leases      LeaseStore
	Source      LeaseSource
	Plane       Dataplane
	Notify      Notifier      // optional
	Logger      *slog.Logger  // optional
	Metrics     *Metrics      // optional
	StopTimeout time.Duration // graceful stop budget: withdraw and release every VIP
	// Peers is the ride-through's peer channel: required when Election.Ride is on, and
	// only then.
	Peers PeerChannel
}

// Validate checks the wiring and the election timing.
func (c Config) Validate() error {
	switch {
	case c.Namespace == "":
		return fmt.Errorf("daemon: Namespace is empty")
	case c.Leases == nil || c.Source == nil || c.Plane == nil:
		return fmt.Errorf("daemon: Leases, Source and Plane are required")
	case c.StopTimeout <= 0:
		return fmt.Errorf("daemon: StopTimeout %v must be positive", c.StopTimeout)
	case c.Election.Ride.On() != (c.Peers != nil):
		return fmt.Errorf("daemon: the ride-through (Election.Ride.Cap %v) needs a peer channel, and a peer channel needs it", c.Election.Ride.Cap)
	}
	return c.Election.WithDefaults().Validate()
}

// Want is what this node should do about one VIP (see controller.Want).
type Want struct {
	Wanted   bool
	Eligible bool
	Rank     int
	Ahead    []string // candidates ranked before this node (controller.Want.Ahead)
	Services []types.NamespacedName
	// Interfaces, if set, are the names or patterns of the interfaces that may carry the
	// VIP (its pool's advertisement); empty means the data plane's default.
	Interfaces []string
}

// Daemon runs the election core of this node: one loop, one core, every VIP.
type Daemon struct {
	cfg  Config
	log  *slog.Logger
	m    *Metrics
	core *election.Node

	mu       sync.Mutex
	notify   Notifier
	inbox    []input
	wake     chan struct{}
	synced   bool
	stopping bool
	done     chan struct{} // closed when the loop has stopped
}

// New returns a Daemon for cfg.
func New(cfg Config) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Election = cfg.Election.WithDefaults()
	core, err := election.New(cfg.Election)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, n := cfg.Metrics, cfg.Notify
	if m == nil {
		m = NewMetrics(nil)
	}
	if n == nil {
		n = nopNotifier{}
	}
	return &Daemon{cfg: cfg, log: log.With("node", cfg.Election.Identity), m: m, core: core, notify: n,
		wake: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

type nopNotifier struct{}

func (nopNotifier) Announced(netip.Addr, []types.NamespacedName)               {}
func (nopNotifier) Withdrawn(netip.Addr, []types.NamespacedName, string)       {}
func (nopNotifier) Problem(netip.Addr, []types.NamespacedName, string, string) {}

// SetNotifier sets where the loop reports announcements, withdrawals and problems. Call it
// before Run.
func (d *Daemon) SetNotifier(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notify = n
}

func (d *Daemon) notifier() Notifier {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.notify
}

// Synced reports whether the Lease cache is synced and the loop runs (for /readyz).
func (d *Daemon) Synced() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.synced
}
