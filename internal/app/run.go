package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/pool"
)

// Run builds the real adapters for cfg and runs the daemon until ctx ends (SIGTERM), then
// withdraws every VIP and releases its Lease within cfg.StopTimeout.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rc, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	var onLink linkHook
	plane, err := announce.New(announce.Config{Interface: cfg.Interface, Logger: log, OnLinkChange: onLink.fire})
	if err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	defer plane.Close()
	// Crash recovery: whatever an earlier vipkeeper left on this node is not held now.
	if err := plane.Set(ctx, nil); err != nil {
		log.Error("start-up sweep incomplete; the kernel lifetimes still remove stale VIPs", "err", err)
	}
	return runWith(ctx, cfg, log, rc, client, plane, &onLink)
}

// linkHook forwards the data plane's link changes to the controller created after it.
type linkHook struct{ f atomic.Pointer[func()] }

func (h *linkHook) fire() {
	if f := h.f.Load(); f != nil {
		(*f)()
	}
}

func runWith(ctx context.Context, cfg Config, log *slog.Logger, rc *rest.Config, client kubernetes.Interface, plane *announce.Announcer, onLink *linkHook) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, stopRec := controller.NewRecorder(ctx, client, cfg.NodeName)
	defer stopRec()
	routes, err := newRouting(cfg, log, rc, client, plane, rec, reg, onLink.fire) // nil without --bgp
	if err != nil {
		return err
	}
	var dp daemon.Dataplane = plane
	if routes != nil {
		dp = routes.Plane()
	}
	d, err := newDaemon(cfg, log, rc, client, dp, daemon.NewMetrics(reg))
	if err != nil {
		return err
	}
	ctrl, err := controller.New(controller.Config{
		Client: client, Elections: routes.Elections(wants{d}), Recorder: rec, NodeName: cfg.NodeName,
		Namespace: cfg.Namespace, Class: controller.Class{Name: cfg.LoadBalancerClass, Default: cfg.DefaultClass},
		CanCarry: routes.CanCarry(plane.CanCarry), Logger: log,
	})
	if err != nil {
		return err
	}
	d.SetNotifier(ctrl.NodeEvents())
	resync := ctrl.Resync
	onLink.f.Store(&resync)
	alloc, err := newAllocator(cfg, log, rc, client, rec)
	if err != nil {
		return err
	}
	return supervise(ctx, cfg, log, reg, plane, routes, ctrl, d, alloc)
}

func newDaemon(cfg Config, log *slog.Logger, rc *rest.Config, client kubernetes.Interface, plane daemon.Dataplane, m *daemon.Metrics) (*daemon.Daemon, error) {
	lc, err := lease.NewClient(rc, lease.ClientConfig{QPS: float32(cfg.LeaseQPS), Burst: cfg.LeaseBurst, Timeout: cfg.RenewDeadline})
	if err != nil {
		return nil, err
	}
	store, err := lease.New(lease.Config{Client: lc.CoordinationV1(), Namespace: cfg.Namespace,
		Identity: cfg.NodeName, Duration: cfg.LeaseDuration})
	if err != nil {
		return nil, err
	}
	ec := election.DefaultConfig(cfg.NodeName)
	ec.LeaseDuration, ec.RenewDeadline, ec.RetryPeriod = cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod
	ec.Rand = rand.Float64 // full-jitter backoff; safe for concurrent electors
	return daemon.New(daemon.Config{Election: ec, Namespace: cfg.Namespace, Leases: store,
		Source: lease.NewSource(client, cfg.Namespace), Plane: plane, Logger: log, Metrics: m,
		StopTimeout: cfg.StopTimeout})
}

// newAllocator is the address-pool allocator: every daemon runs one, the holder of the
// vipkeeper-allocator Lease allocates (internal/pool).
func newAllocator(cfg Config, log *slog.Logger, rc *rest.Config, client kubernetes.Interface, rec record.EventRecorder) (*pool.Allocator, error) {
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return pool.New(pool.Config{Client: client, Dynamic: dyn, Namespace: cfg.Namespace,
		Identity: cfg.NodeName, Class: cfg.LoadBalancerClass, DefaultClass: cfg.DefaultClass,
		Recorder: rec, Logger: log.With("component", "allocator")})
}

// supervise runs every part until ctx ends. The daemon outlives ctx by its stop budget; a
// part failing early stops the rest the same graceful way.
func supervise(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry,
	plane *announce.Announcer, routes *routing, ctrl *controller.Controller, d *daemon.Daemon, alloc *pool.Allocator) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := func() bool { return ctrl.HasSynced() && d.Synced() && routes.Synced() }
	health, err := serve(ctx, cfg.HealthAddr, healthMux(ready), log)
	if err != nil {
		return err
	}
	metrics, err := serve(ctx, cfg.MetricsAddr, metricsMux(reg), log)
	if err != nil {
		return err
	}
	errc := make(chan error, 7)
	parts := 0
	run := func(name string, f func() error) {
		parts++
		go func() {
			err := f()
			if err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
			errc <- err
		}()
	}
	pctx, stopPlane := context.WithCancel(context.WithoutCancel(ctx)) // announcing outlives the stop budget
	defer stopPlane()
	run("data plane", func() error { return plane.Run(pctx) })
	run("bgp speaker", func() error { return routes.RunSpeaker(pctx) }) // withdraws after the daemon
	run("bgp config", func() error { return routes.RunWatcher(ctx) })
	run("controller", func() error { return ctrl.Run(ctx) })
	run("allocator", func() error { return alloc.Run(ctx) })
	run("health", health)
	run("metrics", metrics)
	derr := d.Run(ctx)
	stopPlane()
	for range parts {
		<-errc
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return errors.Join(cause, derr)
	}
	return derr
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (set --kubeconfig outside a cluster): %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return rc, nil
}

// wants hands the controller's per-node wants to the daemon.
type wants struct{ d *daemon.Daemon }

func (w wants) Want(in map[netip.Addr]controller.Want) {
	out := make(map[netip.Addr]daemon.Want, len(in))
	for ip, cw := range in {
		out[ip] = daemon.Want{Wanted: true, Eligible: cw.Eligible, Rank: cw.Rank, Ahead: cw.Ahead, Services: cw.Services}
	}
	w.d.SetWants(out)
}
