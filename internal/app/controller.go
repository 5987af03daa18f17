package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/gc"
	"github.com/vipkeeper/vipkeeper/internal/ingress"
	"github.com/vipkeeper/vipkeeper/internal/leader"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/pool"
)

// ControllerLease is the Lease that elects the one controller replica that writes.
const ControllerLease = "vipkeeper-controller"

// RunController runs `vipkeeper controller`: the one cluster writer (allocator, Service
// status, cluster-level Events) on whichever replica leads, until ctx ends.
func RunController(ctx context.Context, cfg ControllerConfig, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rc, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	return RunControllerWith(ctx, cfg, log, rc)
}

// RunControllerWith runs the controller role with the given API config.
func RunControllerWith(ctx context.Context, cfg ControllerConfig, log *slog.Logger, rc *rest.Config) error {
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	reg := newRegistry()
	rec, stopRec := controller.NewRecorder(ctx, client, "")
	defer stopRec()
	runnables, err := clusterWriters(cfg, log, client, dyn, rec, reg)
	if err != nil {
		return err
	}
	el, err := leader.New(electionConfig(cfg, client, runnables, reg, log))
	if err != nil {
		return err
	}
	var started atomic.Bool // ready once campaigning: a standby replica is ready too
	return supervise(ctx, cfg.Common, log, reg, started.Load, func(ctx context.Context) error {
		started.Store(true)
		return el.Run(ctx)
	})
}

// electionConfig is the controller's leader election: the timing flags reach it as they
// reach the agents' elections.
func electionConfig(cfg ControllerConfig, client kubernetes.Interface, runnables []leader.Named,
	reg prometheus.Registerer, log *slog.Logger) leader.Config {
	return leader.Config{Leases: client.CoordinationV1(), Namespace: cfg.Namespace,
		Name: ControllerLease, Identity: cfg.Identity, LeaseDuration: cfg.Timing.LeaseDuration,
		RenewDeadline: cfg.Timing.RenewDeadline, RetryPeriod: cfg.Timing.RetryPeriod,
		Runnables: runnables, Metrics: reg, Logger: log.With("component", "controller")}
}

// clusterWriters is the work that runs only while this replica leads: allocation, Service
// status and Lease garbage collection.
func clusterWriters(cfg ControllerConfig, log *slog.Logger, client kubernetes.Interface, dyn dynamic.Interface,
	rec record.EventRecorder, reg prometheus.Registerer) ([]leader.Named, error) {
	alloc, err := pool.New(pool.Config{Client: client, Dynamic: dyn, Class: cfg.LoadBalancerClass,
		DefaultClass: cfg.DefaultClass, Recorder: rec, Metrics: reg, Logger: log.With("component", "allocator")})
	if err != nil {
		return nil, err
	}
	status, err := ingress.New(ingress.Config{Client: client, Dynamic: dyn, Recorder: rec, Class: class(cfg.Common),
		IgnoreExcludeLB: cfg.IgnoreExcludeLB, Logger: log.With("component", "status")})
	if err != nil {
		return nil, err
	}
	collector, err := newCollector(cfg, log, client)
	if err != nil {
		return nil, err
	}
	return []leader.Named{{Name: "allocator", Runnable: alloc}, {Name: "status", Runnable: status},
		{Name: "lease gc", Runnable: collector}}, nil
}

// newCollector is the Lease garbage collector; its writes name this replica as revoker.
func newCollector(cfg ControllerConfig, log *slog.Logger, client kubernetes.Interface) (*gc.Collector, error) {
	store, err := lease.New(lease.Config{Client: client.CoordinationV1(), Namespace: cfg.Namespace,
		Identity: cfg.Identity, Duration: cfg.Timing.LeaseDuration})
	if err != nil {
		return nil, err
	}
	return gc.New(gc.Config{Client: client, Store: store, Namespace: cfg.Namespace, Class: class(cfg.Common),
		Timing: gc.Timing{Grace: 2 * cfg.Timing.LeaseDuration, LeaseDuration: cfg.Timing.LeaseDuration,
			RevokeWait: collectorWait(cfg.Common)},
		Logger: log.With("component", "lease gc")})
}

// collectorWait is how long the collector waits on a departed node's unchanged presence
// before revoking it. No holder asks the collector for an attestation, so it is a node the
// holder has not acknowledged and waits LD + X (docs/ride-through-model.md, finding 9);
// the cap bounds a rider from its last landed renewal whatever the collector saw.
func collectorWait(c Common) time.Duration {
	ec := election.Config{LeaseDuration: c.Timing.LeaseDuration, Ride: c.Ride.election()}.WithDefaults()
	return ec.UnackedWait()
}
