package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/ingress"
	"github.com/vipkeeper/vipkeeper/internal/leader"
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

// clusterWriters is the work that runs only while this replica leads. Lease garbage
// collection belongs here too when it comes: one more leader.Named.
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
	return []leader.Named{{Name: "allocator", Runnable: alloc}, {Name: "status", Runnable: status}}, nil
}
