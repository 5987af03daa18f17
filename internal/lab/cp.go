package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// The control-plane lab's defaults.
var (
	// CPVIP is the control-plane VIP of the lab, beside the nodes (.11-.13) and the client (.2-.9).
	CPVIP = netip.AddrFrom4([4]byte{198, 51, 100, 250})
	// CPTiming is the control-plane mode's default timing (internal/cpvip).
	CPTiming = Timing{Name: "control-plane", LeaseDuration: 6 * time.Second, RenewDeadline: 4 * time.Second, RetryPeriod: time.Second}
)

// The announcers a control-plane lab can run on its nodes.
const (
	AnnouncerVipkeeper  = "vipkeeper"
	AnnouncerKeepalived = "keepalived"
)

// cpHealthPort is the control-plane mode's /readyz port on the node's management address.
const cpHealthPort = 9475

// CPConfig configures a control-plane lab: N control-plane nodes, each running an etcd
// member (one N-member cluster), its own kube-apiserver and the announcer of the VIP.
type CPConfig struct {
	Nodes     int        // control-plane nodes, 1..MaxNodes; default 3
	VIP       netip.Addr // default CPVIP
	Timing    Timing     // vipkeeper's election timing; default CPTiming
	Announcer string     // AnnouncerVipkeeper (default) or AnnouncerKeepalived
	DaemonBin string     // vipkeeper binary; default as Config.DaemonBin
	// ControlPlane: BinDir, StartTimeout, APIServerArgs; the lab fills Members and SANs.
	ControlPlane  testenv.ClusterOptions
	ReadInterval  time.Duration // the client's HTTPS read interval; default 100ms
	ProbeInterval time.Duration // ARP probe interval; default 100ms
	Logger        *slog.Logger
}

func (c CPConfig) withDefaults() CPConfig {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if !c.VIP.IsValid() {
		c.VIP = CPVIP
	}
	if c.Timing == (Timing{}) {
		c.Timing = CPTiming
	}
	if c.Announcer == "" {
		c.Announcer = AnnouncerVipkeeper
	}
	if c.ReadInterval == 0 {
		c.ReadInterval = 100 * time.Millisecond
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every invalid setting at once (after defaults).
func (c CPConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		errs = append(errs, fmt.Errorf("nodes %d: want 1..%d", c.Nodes, MaxNodes))
	}
	if c.Announcer != AnnouncerVipkeeper && c.Announcer != AnnouncerKeepalived {
		errs = append(errs, fmt.Errorf("announcer %q: want %s or %s", c.Announcer, AnnouncerVipkeeper, AnnouncerKeepalived))
	}
	if !netip.MustParsePrefix("198.51.100.0/24").Contains(c.VIP) {
		errs = append(errs, fmt.Errorf("vip %s: want an address of the data LAN 198.51.100.0/24", c.VIP))
	}
	if c.ReadInterval < 10*time.Millisecond || c.ProbeInterval < 10*time.Millisecond {
		errs = append(errs, errors.New("read and probe intervals: want at least 10ms"))
	}
	return errors.Join(errs...)
}

// CPLab is a running control-plane lab. Topology as the Service lab (doc.go), but every
// node runs an etcd member and kube-apiserver (on 0.0.0.0:6443, advertising its data-LAN
// address, stacked etcd), and the client reads through https://VIP:6443.
type CPLab struct {
	cfg      CPConfig
	plan     plan
	dir      string
	cluster  *testenv.Cluster
	admin    []kubernetes.Interface // per node, over its management address
	nodes    []*Node
	timeline *Timeline
	prober   *Prober
	reader   *Reader
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	faulted  bool // a scenario ran: the next reset waits for every node's rise

	closeOnce sync.Once
	closeErr  error
}

// StartCP builds a control-plane lab and returns once every kube-apiserver is ready and
// every announcer started (see WaitHolder). On error nothing is left behind.
func StartCP(ctx context.Context, cfg CPConfig) (*CPLab, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := checkHost(); err != nil {
		return nil, err
	}
	if err := resolveCPFiles(&cfg); err != nil {
		return nil, err
	}
	if err := Sweep(ctx); err != nil {
		cfg.Logger.Warn("sweeping an earlier lab left something", "err", err)
	}
	l := &CPLab{cfg: cfg, plan: plan{id: newID(), nodes: cfg.Nodes}, timeline: NewTimeline()}
	if err := writePidFile(StateDir, l.plan.tag()); err != nil {
		return nil, err
	}
	if err := l.start(ctx); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	return l, nil
}

func resolveCPFiles(cfg *CPConfig) error {
	if cfg.Announcer == AnnouncerKeepalived {
		return checkKeepalived()
	}
	c := Config{DaemonBin: cfg.DaemonBin, Manifest: "-"}
	if err := resolveFiles(&c); err != nil {
		return err
	}
	cfg.DaemonBin = c.DaemonBin
	return nil
}

func (l *CPLab) start(ctx context.Context) error {
	var err error
	if l.dir, err = os.MkdirTemp("", l.plan.tag()+"-"); err != nil {
		return fmt.Errorf("lab dir: %w", err)
	}
	l.cfg.Logger.Info("building the network", "lab", l.plan.tag(), "nodes", l.cfg.Nodes)
	if err := l.buildNetwork(ctx); err != nil {
		return err
	}
	l.cfg.Logger.Info("starting the control plane", "nodes", l.cfg.Nodes, "vip", l.cfg.VIP)
	if l.cluster, err = testenv.StartCluster(ctx, l.clusterOptions()); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	for i := range l.cfg.Nodes {
		cs, err := kubernetes.NewForConfig(l.cluster.AdminConfig(i))
		if err != nil {
			return err
		}
		l.admin = append(l.admin, cs)
	}
	if err := l.startWatchers(); err != nil {
		return err
	}
	return l.startAnnouncers()
}

func (l *CPLab) buildNetwork(ctx context.Context) error {
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
	}
	return nil
}

func (l *CPLab) clusterOptions() testenv.ClusterOptions {
	o := l.cfg.ControlPlane
	o.Members, o.SANs = nil, []netip.Addr{l.cfg.VIP}
	for i := 1; i <= l.cfg.Nodes; i++ {
		o.Members = append(o.Members, testenv.ClusterMember{Name: NodeName(i), IP: nodeIPv4(i),
			Reach: l.plan.nodeMgmtIP(i), Exec: []string{"ip", "netns", "exec", l.plan.nodeNS(i)}})
	}
	return o
}

// startAnnouncers writes each node's kubeconfig (server: the VIP, as kubeadm's admin.conf;
// the control-plane mode replaces it with the local API server) and starts the announcers.
func (l *CPLab) startAnnouncers() error {
	for i := 1; i <= l.cfg.Nodes; i++ {
		n, err := l.newAnnouncer(i)
		if err != nil {
			return err
		}
		l.nodes = append(l.nodes, n)
		if err := n.Start(); err != nil {
			return err
		}
	}
	return nil
}

func (l *CPLab) newAnnouncer(i int) (*Node, error) {
	n := &Node{index: i, name: NodeName(i), ns: l.plan.nodeNS(i), plan: l.plan,
		logPath: filepath.Join(l.dir, NodeName(i)+"-"+l.cfg.Announcer+".log"), logger: l.cfg.Logger.Info}
	if l.cfg.Announcer == AnnouncerKeepalived {
		return n, l.keepalivedNode(n)
	}
	t := l.cfg.Timing
	n.args = DaemonArgs{Bin: l.cfg.DaemonBin, Node: n.name, Interface: "eth0", Namespace: "kube-system",
		Kubeconfig:    filepath.Join(l.dir, n.name+".kubeconfig"),
		HealthAddr:    net.JoinHostPort(l.plan.nodeMgmtIP(i).String(), strconv.Itoa(cpHealthPort)),
		LeaseDuration: t.LeaseDuration, RenewDeadline: t.RenewDeadline, RetryPeriod: t.RetryPeriod}
	n.tmpl = "{{.Bin}} control-plane --vip=" + l.cfg.VIP.String() +
		" --interface={{.Interface}} --kubeconfig={{.Kubeconfig}} --node-name={{.Node}} --namespace={{.Namespace}}" +
		" --lease-duration={{.LeaseDuration}} --renew-deadline={{.RenewDeadline}} --retry-period={{.RetryPeriod}}" +
		" --health-addr={{.HealthAddr}} --log-format=text"
	server := "https://" + net.JoinHostPort(l.cfg.VIP.String(), strconv.Itoa(testenv.APIServerPort))
	return n, writeKubeconfig(n.args.Kubeconfig, server, l.cluster.CA(), l.cluster.AdminToken())
}

// startWatchers starts the ARP prober, the HTTPS reader and the Lease poller.
func (l *CPLab) startWatchers() error {
	owners := map[string]string{}
	for i := 1; i <= l.cfg.Nodes; i++ {
		owners[net.HardwareAddr(mustMAC(dataMAC(i))).String()] = NodeName(i)
	}
	v4, v6 := clientSources()
	p, err := NewProber(ProberConfig{NetNS: l.plan.clientNS(), Interface: "eth0", Interval: l.cfg.ProbeInterval,
		Sources4: v4, Sources6: v6, Timeline: l.timeline,
		Owner: func(mac net.HardwareAddr) string { return owners[mac.String()] }})
	if err != nil {
		return err
	}
	p.Watch(l.cfg.VIP)
	l.prober = p
	l.reader = NewReader(ReaderConfig{NetNS: l.plan.clientNS(), VIP: l.cfg.VIP, CA: l.cluster.CA(),
		Token: l.cluster.AdminToken(), Interval: l.cfg.ReadInterval})
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.goBackground(ctx, func(ctx context.Context) { _ = p.Run(ctx) })
	l.goBackground(ctx, l.reader.Run)
	l.goBackground(ctx, l.pollHolders)
	return nil
}

func mustMAC(s string) net.HardwareAddr {
	hw, _ := net.ParseMAC(s)
	return hw
}

func (l *CPLab) goBackground(ctx context.Context, f func(context.Context)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f(ctx)
	}()
}

// Close stops everything and removes every namespace, interface, process and temp dir.
// It is idempotent and safe on a half-started lab.
func (l *CPLab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

func (l *CPLab) teardown() error {
	ctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
	for _, n := range l.nodes {
		n.stop()
	}
	if l.cluster != nil {
		l.cluster.Stop()
	}
	return removeLab(ctx, l.plan.tag(), l.cfg.Logger)
}

// removeLab removes the network objects, temp dirs and pid file of the lab with tag, once
// its processes are gone (both kinds of lab end this way).
func removeLab(ctx context.Context, tag string, log *slog.Logger) error {
	errs := []error{removeTag(ctx, tag)}
	if err := os.Remove(filepath.Join(StateDir, tag+".pid")); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	log.Info("lab removed", "lab", tag)
	return errors.Join(errs...)
}
