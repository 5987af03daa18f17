package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// part is one long-running piece of a role. An outliving part runs until the main part has
// returned (the data plane keeps announcing through the agent's stop budget).
type part struct {
	name    string
	run     func(context.Context) error
	outlive bool
}

// supervise serves health and metrics and runs main and every part until ctx ends and main
// returns. A part failing early stops the rest the same graceful way.
func supervise(ctx context.Context, c Common, log *slog.Logger, reg *prometheus.Registry, ready func() bool,
	main func(context.Context) error, parts ...part) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	health, err := serve(ctx, c.HealthAddr, healthMux(ready), log)
	if err != nil {
		return err
	}
	metrics, err := serve(ctx, c.MetricsAddr, metricsMux(reg, c.Pprof), log)
	if err != nil {
		return err
	}
	parts = append(parts, part{"health", func(context.Context) error { return health() }, false},
		part{"metrics", func(context.Context) error { return metrics() }, false})
	pctx, stopOutliving := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOutliving()
	errc := make(chan error, len(parts))
	for _, p := range parts {
		pc := ctx
		if p.outlive {
			pc = pctx
		}
		go func() {
			err := p.run(pc)
			if err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", p.name, err))
			}
			errc <- err
		}()
	}
	merr := main(ctx)
	stopOutliving()
	for range parts {
		<-errc
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return errors.Join(cause, merr)
	}
	return merr
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func class(c Common) svcrules.Class {
	return svcrules.Class{Name: c.LoadBalancerClass, Default: c.DefaultClass}
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
