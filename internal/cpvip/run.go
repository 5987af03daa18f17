package cpvip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// Run holds the control-plane VIP for this node whenever it should, until ctx ends (SIGTERM),
// then withdraws it and releases its Lease within cfg.StopTimeout.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log = log.With("vip", cfg.VIP.String(), "node", cfg.NodeName)
	rc, err := localConfig(cfg)
	if err != nil {
		return err
	}
	var el eligibility
	plane, err := announce.New(announce.Config{Interface: cfg.Interface, Logger: log, Protocol: Protocol,
		OnLinkChange: el.poke})
	if err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	defer plane.Close()
	// Crash recovery: whatever an earlier control-plane vipkeeper left here is not held now.
	if err := plane.Set(ctx, nil); err != nil {
		log.Error("start-up sweep incomplete; the kernel lifetimes still remove a stale VIP", "err", err)
	}
	p, err := newParts(cfg, log, rc, plane)
	if err != nil {
		return err
	}
	el.init(cfg.VIP, p.d, plane.CanCarry, log)
	return p.run(ctx, cfg, log, plane, &el)
}

// localConfig reads the kubeconfig and points it at this node's own kube-apiserver,
// verifying its certificate for TLSServerName (kubeadm's kubeconfigs name the VIP).
func localConfig(cfg Config) (*rest.Config, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	rc.Host = cfg.Server
	if cfg.TLSServerName != "" && !rc.Insecure {
		rc.TLSClientConfig.ServerName = cfg.TLSServerName
	}
	rc.UserAgent = rest.DefaultKubernetesUserAgent() + " vipkeeper-control-plane"
	return rc, nil
}

// parts are the long-running pieces of one control-plane process.
type parts struct {
	d      *daemon.Daemon
	client kubernetes.Interface
	probe  *prober
	peers  *peers // nil without --peer-release
	reg    *prometheus.Registry
}

func newParts(cfg Config, log *slog.Logger, rc *rest.Config, plane *announce.Announcer) (*parts, error) {
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	newLS := leaseStoreFor(cfg)
	local, err := newLS(rc)
	if err != nil {
		return nil, err
	}
	p := &parts{client: client, reg: prometheus.NewRegistry()}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st := &store{local: local, log: log}
	if cfg.PeerRelease {
		p.peers = &peers{base: rc, newLS: newLS, isLocal: localAddrs(cfg.VIP), log: log, stores: map[string]daemon.LeaseStore{}}
		st.peers = p.peers
	}
	if p.probe, err = newProber(rc, cfg, log); err != nil {
		return nil, err
	}
	ec := cfg.election()
	ec.Rand = rand.Float64
	p.d, err = daemon.New(daemon.Config{Election: ec, Namespace: cfg.Namespace, Leases: st,
		Source: lease.NewSource(client, cfg.Namespace), Plane: plane, Logger: log,
		Metrics: daemon.NewMetrics(p.reg), StopTimeout: cfg.StopTimeout})
	return p, err
}

// run runs every part until ctx ends; the daemon outlives ctx by its stop budget, and the
// data plane outlives the daemon so the VIP is announced until it is withdrawn.
func (p *parts) run(ctx context.Context, cfg Config, log *slog.Logger, plane *announce.Announcer, el *eligibility) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	srv, err := serveHealth(ctx, cfg.HealthAddr, p, log)
	if err != nil {
		return err
	}
	pctx, stopPlane := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPlane()
	var bg group
	bg.start(func() error { return plane.Run(pctx) }, cancel, "data plane")
	bg.start(srv, cancel, "health server")
	bg.start(func() error { p.probe.run(ctx, el.setHealthy); return nil }, cancel, "probe")
	if p.peers != nil {
		bg.start(func() error { p.peers.run(ctx, p.client); return nil }, cancel, "peers")
	}
	derr := p.d.Run(ctx)
	stopPlane()
	bg.wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return errors.Join(cause, derr)
	}
	return derr
}

// eligibility turns health and carrier into the daemon's one Want, on every change.
type eligibility struct {
	vip      netip.Addr
	d        *daemon.Daemon
	canCarry func(netip.Addr) error
	log      *slog.Logger

	mu      sync.Mutex
	healthy bool
	last    *bool
}

func (e *eligibility) init(vip netip.Addr, d *daemon.Daemon, canCarry func(netip.Addr) error, log *slog.Logger) {
	e.mu.Lock()
	e.vip, e.d, e.canCarry, e.log = vip, d, canCarry, log
	e.mu.Unlock()
	e.poke()
}

// setHealthy records the local API server's verdict.
func (e *eligibility) setHealthy(ok bool) {
	e.mu.Lock()
	e.healthy = ok
	e.mu.Unlock()
	e.poke()
}

// poke recomputes eligibility (also called by the data plane when a link changes).
func (e *eligibility) poke() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.d == nil {
		return
	}
	carry := e.canCarry(e.vip)
	ok := e.healthy && carry == nil
	if e.last != nil && *e.last == ok {
		return
	}
	e.last = &ok
	e.log.Info("candidacy changed", "eligible", ok, "api_healthy", e.healthy, "carrier_err", carry)
	e.d.SetWants(map[netip.Addr]daemon.Want{e.vip: {Wanted: true, Eligible: ok}})
}
