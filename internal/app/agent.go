package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/peer"
)

// Plane is the agent's data plane (announce.Announcer; announcetest.Fake in tests).
type Plane interface {
	daemon.Dataplane
	Set(ctx context.Context, desired []announce.Address) error
	Run(ctx context.Context) error
	// CanCarryOn answers for a VIP that may go on the interfaces allowed (a pool's
	// spec.l2.interfaces; nil: --interface).
	CanCarryOn(ip netip.Addr, allowed []string) error
}

// RunAgent runs `vipkeeper agent`: the elections and the data plane of one node, until ctx
// ends (SIGTERM); then it withdraws every VIP and releases its Lease within cfg.StopTimeout.
func RunAgent(ctx context.Context, cfg AgentConfig, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rc, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	reg := newRegistry()
	sent := announcementCounter(reg)
	var onLink LinkHook
	plane, err := announce.New(announce.Config{Interface: cfg.Interface, Logger: log, OnLinkChange: onLink.fire, OnSend: sent,
		Fence: cfg.rideOn()})
	if err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	defer plane.Close()
	return RunAgentOn(ctx, cfg, log, rc, plane, reg, &onLink)
}

// RunAgentOn runs the agent on a given data plane (the daemon sweeps it first). onLink, if
// set, is fired by the plane when a link changes. reg nil: a fresh registry.
func RunAgentOn(ctx context.Context, cfg AgentConfig, log *slog.Logger, rc *rest.Config, plane Plane,
	reg *prometheus.Registry, onLink *LinkHook) error {
	if reg == nil {
		reg = newRegistry()
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	rec, stopRec := controller.NewRecorder(ctx, client, cfg.NodeName)
	defer stopRec()
	if ap, ok := plane.(arpChecker); ok {
		warnARP(ap, rec, cfg.NodeName, log)
	}
	onChange := func() {}
	if onLink != nil {
		onChange = onLink.fire
	}
	routes, err := newRouting(cfg, log, rc, client, plane, rec, reg, onChange) // nil without --bgp
	if err != nil {
		return err
	}
	var dp daemon.Dataplane = plane
	if routes != nil {
		dp = routes.Plane()
	}
	var peers *peer.Channel // nil without ride-through
	if cfg.rideOn() {
		if peers, err = newPeers(cfg, log, reg); err != nil {
			return err
		}
		defer peers.Close() // the daemon's Run closes it too; this covers a start that fails
	}
	d, err := newDaemon(cfg, log, rc, client, dp, reg, peers)
	if err != nil {
		return err
	}
	ctrl, err := controller.New(controller.Config{Client: client, Dynamic: dyn, Elections: routes.Elections(wants{d}), Recorder: rec,
		NodeName: cfg.NodeName, Class: class(cfg.Common), IgnoreExcludeLB: cfg.IgnoreExcludeLB,
		CanCarry: routes.CanCarry(plane.CanCarryOn), Logger: log})
	if err != nil {
		return err
	}
	d.SetNotifier(ctrl.NodeEvents())
	if onLink != nil {
		resync := ctrl.Resync
		onLink.f.Store(&resync)
	}
	return supervise(ctx, cfg.Common, log, reg, func() bool { return ctrl.HasSynced() && d.Synced() && routes.Synced() },
		d.Run, part{"data plane", plane.Run, true}, part{"bgp speaker", routes.RunSpeaker, true}, // withdraws after the daemon
		part{"bgp config", routes.RunWatcher, false}, part{"controller", ctrl.Run, false})
}

func newDaemon(cfg AgentConfig, log *slog.Logger, rc *rest.Config, client kubernetes.Interface, plane daemon.Dataplane,
	reg *prometheus.Registry, peers *peer.Channel) (*daemon.Daemon, error) {
	// The HTTP timeout is only a backstop behind each request's own deadline (sized by the
	// core up to the lease duration); it must not cut a request the core lets run.
	lc, err := lease.NewClient(rc, lease.ClientConfig{QPS: float32(cfg.LeaseQPS), Burst: cfg.LeaseBurst,
		Timeout: cfg.Timing.LeaseDuration + time.Second})
	if err != nil {
		return nil, err
	}
	lcfg := lease.Config{Client: lc.CoordinationV1(), Namespace: cfg.Namespace,
		Identity: cfg.NodeName, Duration: cfg.Timing.LeaseDuration}
	ec := election.DefaultConfig(cfg.NodeName)
	ec.LeaseDuration, ec.RenewDeadline, ec.RetryPeriod = cfg.Timing.LeaseDuration, cfg.Timing.RenewDeadline, cfg.Timing.RetryPeriod
	ec.Rand = rand.Float64 // full-jitter backoff; safe for concurrent electors
	dc := daemon.Config{Namespace: cfg.Namespace, Source: lease.NewSource(client, cfg.Namespace), Plane: plane,
		Logger: log, Metrics: daemon.NewMetrics(reg), StopTimeout: cfg.StopTimeout}
	if peers != nil {
		adv, _ := cfg.Peer.advertise() // checked by Validate
		lcfg.PeerAddress, dc.Peers = adv.String(), peers
		fenceElection(&ec, cfg.Ride)
		log.Info("ride-through on", "peer", adv.String(), "listen", peers.Addr().String(), "cap", cfg.Ride.Cap)
	}
	store, err := lease.New(lcfg)
	if err != nil {
		return nil, err
	}
	dc.Election, dc.Leases = ec, store
	return daemon.New(dc)
}

// announcementCounter is the data plane's OnSend hook: vipkeeper_announcements_total counts
// every gratuitous ARP (ipv4) and unsolicited Neighbor Advertisement (ipv6) sent or failed.
func announcementCounter(reg prometheus.Registerer) func(netip.Addr, string, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vipkeeper_announcements_total",
		Help: "Gratuitous ARP (family ipv4) and unsolicited Neighbor Advertisement (ipv6) announcements by result (sent, error)."},
		[]string{"family", "result"})
	reg.MustRegister(c)
	for _, f := range []string{"ipv4", "ipv6"} {
		for _, r := range []string{"sent", "error"} {
			c.WithLabelValues(f, r) // present from the start, so rate() sees the first one
		}
	}
	return func(ip netip.Addr, _ string, err error) {
		fam, res := "ipv4", "sent"
		if ip.Is6() && !ip.Is4In6() {
			fam = "ipv6"
		}
		if err != nil {
			res = "error"
		}
		c.WithLabelValues(fam, res).Inc()
	}
}

// LinkHook forwards the data plane's link changes to the controller created after it.
type LinkHook struct{ f atomic.Pointer[func()] }

func (h *LinkHook) fire() {
	if f := h.f.Load(); f != nil {
		(*f)()
	}
}

// wants hands the controller's per-node wants to the daemon.
type wants struct{ d *daemon.Daemon }

func (w wants) Want(in map[netip.Addr]controller.Want) {
	out := make(map[netip.Addr]daemon.Want, len(in))
	for ip, cw := range in {
		out[ip] = daemon.Want{Wanted: true, Eligible: cw.Eligible, Rank: cw.Rank, Ahead: cw.Ahead, Services: cw.Services,
			Interfaces: cw.Interfaces}
	}
	w.d.SetWants(out)
}
