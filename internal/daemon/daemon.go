package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/election"
)

// LeaseStore is the Lease API as the runners use it (lease.Store).
type LeaseStore interface {
	Get(ctx context.Context, name string) (*coordv1.Lease, error)
	Write(ctx context.Context, name string, op election.Op, token string, base *coordv1.Lease) (*coordv1.Lease, error)
}

// Dataplane puts VIPs on the node and takes them off (announce.Announcer).
type Dataplane interface {
	Add(ctx context.Context, a announce.Address) error
	Remove(ctx context.Context, ip netip.Addr) error
}

// Notifier tells the Services that use a VIP what happened to it (Kubernetes Events).
type Notifier interface {
	Announced(ip netip.Addr, svcs []types.NamespacedName)
	Withdrawn(ip netip.Addr, svcs []types.NamespacedName, reason string)
	Problem(ip netip.Addr, svcs []types.NamespacedName, reason, msg string)
}

// LeaseSource delivers Lease changes in the daemon's namespace and answers from its cache.
type LeaseSource interface {
	// Start registers h and runs until ctx ends; it returns once its cache is synced.
	Start(ctx context.Context, h func(name string, l *coordv1.Lease, rv string)) error
	// Cached returns the cached Lease and its resourceVersion; nil when absent.
	Cached(name string) *coordv1.Lease
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
	}
	return c.Election.Validate()
}

// Want is what this node should do about one VIP (see controller.Want).
type Want struct {
	Wanted   bool
	Eligible bool
	Rank     int
	Ahead    []string // candidates ranked before this node (controller.Want.Ahead)
	Services []types.NamespacedName
}

// deps is what every runner shares.
type deps struct {
	node, namespace string
	kernelSlack     time.Duration
	leases          LeaseStore
	plane           Dataplane
	notify          Notifier
	metrics         *Metrics
	log             *slog.Logger
}

// Daemon runs one elector per wanted VIP.
type Daemon struct {
	cfg  Config
	deps *deps

	mu       sync.Mutex
	ctx      context.Context // runners' context; nil until Run has synced the Lease cache
	stopping bool            // Run is stopping: SetWants starts no new elector
	wants    map[netip.Addr]Want
	runners  map[netip.Addr]*runner
	byName   map[string]*runner
	wg       sync.WaitGroup
}

// New returns a Daemon for cfg.
func New(cfg Config) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
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
	d := &deps{node: cfg.Election.Identity, namespace: cfg.Namespace, leases: cfg.Leases,
		kernelSlack: KernelSlack(cfg.Election.LeaseDuration, cfg.Election.RenewDeadline),
		plane:       cfg.Plane, notify: n, metrics: m, log: log.With("node", cfg.Election.Identity)}
	return &Daemon{cfg: cfg, deps: d, wants: map[netip.Addr]Want{},
		runners: map[netip.Addr]*runner{}, byName: map[string]*runner{}}, nil
}

// KernelSlack is how much longer than the elector's fence the kernel keeps a VIP: half the
// gap between the fence (renew start + RenewDeadline) and a successor's earliest takeover
// (+ LeaseDuration), less half a second. The kernel's lifetime timer removes an address up
// to about a second late, and the lifetime is whole seconds rounded down, so removal falls
// in [fence + slack - 1s, fence + slack + 1s], which stays before the successor's time
// whenever LeaseDuration - RenewDeadline >= 2s (Config.Validate). Without it, the rounding
// alone withdrew a VIP up to a second before its fence during every API outage.
func KernelSlack(leaseDuration, renewDeadline time.Duration) time.Duration {
	return max((leaseDuration-renewDeadline)/2-500*time.Millisecond, 0)
}

type nopNotifier struct{}

func (nopNotifier) Announced(netip.Addr, []types.NamespacedName)               {}
func (nopNotifier) Withdrawn(netip.Addr, []types.NamespacedName, string)       {}
func (nopNotifier) Problem(netip.Addr, []types.NamespacedName, string, string) {}

// SetNotifier sets where the runners report announcements, withdrawals and Lease problems.
// Call it before Run.
func (d *Daemon) SetNotifier(n Notifier) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deps.notify = n
}
