package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// teardownTimeout bounds Close.
const teardownTimeout = time.Minute

// Sentinel errors of Start; test with errors.Is.
var (
	ErrNotRoot       = errors.New("the lab needs root (network namespaces) and iproute2's ip")
	ErrDaemonMissing = errors.New("daemon binary missing")
)

// Lab is a running lab: a control plane, N simulated nodes each running the daemon, a
// client on the data LAN probing every VIP, and a Timeline of what it saw.
type Lab struct {
	cfg      Config
	plan     plan
	dir      string
	peerKeys [2]string // the peer key dir and the wrong one (Timing.Ride; ride.go)
	env      *testenv.Env
	admin    kubernetes.Interface
	nodes    []*Node
	ctrl     *Node // the controller role, in the host namespace
	timeline *Timeline
	prober   *Prober
	started  time.Time

	cancel context.CancelFunc // ends the prober and the lease poller
	wg     sync.WaitGroup

	router  *router  // BGP labs (bgp_router.go)
	bgpStop []func() // BGP labs: ends the stand-in servers

	mu       sync.Mutex
	services map[netip.Addr]string // VIP -> Service name
	bgErr    error                 // first error of a background loop

	closeOnce sync.Once
	closeErr  error
}

// Start builds a lab and returns once every daemon has been started (not necessarily
// ready: see WaitReady). ctx bounds only the start. On error nothing is left behind.
func Start(ctx context.Context, cfg Config) (*Lab, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults().withBGP()
	if err := checkHost(); err != nil {
		return nil, err
	}
	if err := resolveFiles(&cfg); err != nil {
		return nil, err
	}
	if err := Sweep(ctx); err != nil {
		cfg.Logger.Warn("sweeping an earlier lab left something", "err", err)
	}
	l := &Lab{cfg: cfg, plan: plan{id: newID(), nodes: cfg.Nodes}, timeline: NewTimeline(),
		services: map[netip.Addr]string{}, started: time.Now()}
	if err := writePidFile(StateDir, l.plan.tag()); err != nil {
		return nil, err
	}
	if err := l.start(ctx); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

func checkHost() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: running as uid %d", ErrNotRoot, os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: %w", ErrNotRoot, err)
	}
	return nil
}

// resolveFiles fills DaemonBin and Manifest and checks that they exist.
func resolveFiles(cfg *Config) error {
	if cfg.DaemonBin == "" {
		cfg.DaemonBin = os.Getenv("VIPKEEPER_DAEMON_BIN")
	}
	if cfg.DaemonBin == "" {
		p, err := findRepoFile("bin/vipkeeper")
		if err != nil {
			return fmt.Errorf("%w: %w (go build -o bin/vipkeeper ./cmd/vipkeeper)", ErrDaemonMissing, err)
		}
		cfg.DaemonBin = p
	}
	if fi, err := os.Stat(cfg.DaemonBin); err != nil || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not an executable file", ErrDaemonMissing, cfg.DaemonBin)
	}
	if cfg.Manifest == "" {
		p, err := findRepoFile(filepath.Join("deploy", "vipkeeper.yaml"))
		if err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		cfg.Manifest = p
	}
	return nil
}

func (l *Lab) start(ctx context.Context) error {
	var err error
	if l.dir, err = os.MkdirTemp("", l.plan.tag()+"-"); err != nil {
		return fmt.Errorf("lab dir: %w", err)
	}
	if l.cfg.Timing.Ride {
		if l.peerKeys[0], l.peerKeys[1], err = writePeerKeys(l.dir); err != nil {
			return err
		}
	}
	l.cfg.Logger.Info("building the network", "lab", l.plan.tag(), "nodes", l.cfg.Nodes)
	if err := l.buildNetwork(ctx); err != nil {
		return err
	}
	l.cfg.Logger.Info("starting etcd and kube-apiserver", "address", l.plan.hostMgmtIP())
	opts := l.cfg.ControlPlane
	opts.BindAddress = l.plan.hostMgmtIP().String()
	if l.env, err = testenv.Start(ctx, opts); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	if l.admin, err = kubernetes.NewForConfig(l.env.AdminConfig()); err != nil {
		return err
	}
	if err := l.prepareAPI(ctx); err != nil {
		return err
	}
	if err := errors.Join(l.startBGP(ctx), l.applyBGP(ctx, l.nodes[0].args.Namespace)); err != nil {
		return err
	}
	if err := l.startWatchers(); err != nil {
		return err
	}
	for _, n := range append([]*Node{l.ctrl}, l.nodes...) {
		if n.spare {
			continue
		}
		if err := n.Start(); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) buildNetwork(ctx context.Context) error {
	var err error
	if l.plan, err = buildHostBridge(ctx, l.plan, StateDir); err != nil {
		return err
	}
	if err := buildLAN(ctx, l.plan); err != nil {
		return err
	}
	for i := 1; i <= l.cfg.Nodes; i++ {
		if err := buildNode(ctx, l.plan, i); err != nil {
			return err
		}
		l.nodes = append(l.nodes, l.newNode(i))
	}
	l.ctrl = l.newController()
	return nil
}

// newController is the controller role: a process in the host namespace, its health and
// metrics on the host's management address.
func (l *Lab) newController() *Node {
	t := l.cfg.Timing
	host := l.plan.hostMgmtIP().String()
	return &Node{name: ControllerName, plan: l.plan, tmpl: l.cfg.ControllerCmd,
		logPath: filepath.Join(l.dir, ControllerName+".log"), logger: l.cfg.Logger.Info,
		args: DaemonArgs{Bin: l.cfg.DaemonBin, Node: "lab-" + ControllerName,
			Kubeconfig: filepath.Join(l.dir, ControllerName+".kubeconfig"),
			HealthAddr: net.JoinHostPort(host, strconv.Itoa(healthPort)), MetricsAddr: net.JoinHostPort(host, strconv.Itoa(metricsPort)),
			LeaseDuration: t.LeaseDuration, RenewDeadline: t.RenewDeadline, RetryPeriod: t.RetryPeriod}}
}

func (l *Lab) newNode(i int) *Node {
	t := l.cfg.Timing
	mgmt := l.plan.nodeMgmtIP(i).String()
	args := DaemonArgs{Bin: l.cfg.DaemonBin, Node: NodeName(i),
		Kubeconfig: filepath.Join(l.dir, NodeName(i)+".kubeconfig"), Interface: "eth0",
		HealthAddr:    net.JoinHostPort(mgmt, strconv.Itoa(healthPort)),
		MetricsAddr:   net.JoinHostPort(mgmt, strconv.Itoa(metricsPort)),
		LeaseDuration: t.LeaseDuration, RenewDeadline: t.RenewDeadline, RetryPeriod: t.RetryPeriod}
	if t.Ride {
		args = withPeer(args, i, l.peerKeys[0])
	}
	return &Node{index: i, name: NodeName(i), ns: l.plan.nodeNS(i), plan: l.plan, tmpl: l.cfg.DaemonCmd,
		logPath: filepath.Join(l.dir, NodeName(i)+".log"), logger: l.cfg.Logger.Info,
		spare: i > l.cfg.Nodes-l.cfg.Spare, args: args}
}

// WrongPeerKeyDir is a peer key dir whose one key has the lab key's ID but other bytes
// ("" unless the timing has the peer channel on).
func (l *Lab) WrongPeerKeyDir() string { return l.peerKeys[1] }

// prepareAPI applies the manifest, writes each node's kubeconfig with the token of the
// DaemonSet's ServiceAccount and the controller's with the Deployment's (so each role runs
// with exactly the RBAC the manifest grants it) and registers the Node objects.
func (l *Lab) prepareAPI(ctx context.Context) error {
	acc, err := applyManifest(ctx, l.env.AdminConfig(), l.cfg.Manifest)
	if err != nil {
		return err
	}
	if err := l.writeKubeconfigs(ctx, acc.controller, []*Node{l.ctrl}); err != nil {
		return err
	}
	if err := l.writeKubeconfigs(ctx, acc.agent, l.nodes); err != nil {
		return err
	}
	for _, n := range l.nodes {
		if err := createNode(ctx, l.admin, n); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfigs gives each of nodes a kubeconfig with a token of sa.
func (l *Lab) writeKubeconfigs(ctx context.Context, sa types.NamespacedName, nodes []*Node) error {
	token, err := serviceAccountToken(ctx, l.admin, sa)
	if err != nil {
		return err
	}
	rc := l.env.AdminConfig()
	for _, n := range nodes {
		n.args.Namespace = sa.Namespace
		if err := writeKubeconfig(n.args.Kubeconfig, rc.Host, rc.CAData, token); err != nil {
			return err
		}
	}
	return nil
}

// startWatchers starts the prober and the Lease poller; they run until Close.
func (l *Lab) startWatchers() error {
	owners := map[string]string{}
	for _, n := range l.nodes {
		owners[n.MAC().String()] = n.Name()
	}
	v4, v6 := clientSources()
	p, err := NewProber(ProberConfig{NetNS: l.plan.clientNS(), Interface: "eth0",
		Interval: l.cfg.ProbeInterval, Sources4: v4, Sources6: v6, Timeline: l.timeline,
		Owner: func(mac net.HardwareAddr) string { return owners[mac.String()] }})
	if err != nil {
		return err
	}
	l.prober = p
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	poll := leasePoller{cs: l.admin, ns: l.nodes[0].args.Namespace, every: l.cfg.LeasePoll,
		vips: l.prober.Watched, tl: l.timeline}
	l.goBackground(ctx, "prober", p.Run)
	l.goBackground(ctx, "lease poller", func(ctx context.Context) error { poll.run(ctx); return nil })
	return nil
}

func (l *Lab) goBackground(ctx context.Context, name string, f func(context.Context) error) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := f(ctx); err != nil {
			l.cfg.Logger.Error("lab loop failed", "loop", name, "err", err)
			l.mu.Lock()
			l.bgErr = errors.Join(l.bgErr, fmt.Errorf("%s: %w", name, err))
			l.mu.Unlock()
		}
	}()
}

// Close stops everything and removes every namespace, interface, process and temp dir of
// the lab. It is idempotent and safe to call on a half-started lab.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

func (l *Lab) teardown() error {
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
	for _, n := range l.nodes {
		n.stop()
	}
	if l.ctrl != nil {
		l.ctrl.stop()
	}
	l.stopBGP()
	if l.env != nil {
		l.env.Stop()
	}
	return removeLab(ctx, l.plan.tag(), l.cfg.Logger)
}
