package pool

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Allocator allocates during the leadership terms of the controller role: Run serves one
// term (internal/leader runs it only while this replica leads).
type Allocator struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	leading atomic.Bool // a term is being served
	crd     crdState
}

// New checks cfg and builds an Allocator; nothing runs before Run.
func New(cfg Config) (*Allocator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Allocator{cfg: cfg, log: cfg.Logger, m: m}, nil
}

// IsLeader reports whether this allocator is serving a leadership term now.
func (a *Allocator) IsLeader() bool { return a.leading.Load() }

// Run serves one leadership term until ctx ends: while the VIPPool CRD is served it
// decides and writes; while it is not, pools are off (said once, and in a metric).
func (a *Allocator) Run(ctx context.Context) error {
	a.leading.Store(true)
	defer a.leading.Store(false)
	defer a.m.clear()
	a.log.Info("allocating")
	for ctx.Err() == nil {
		if !a.waitCRD(ctx) {
			break
		}
		a.withCRD(ctx)
	}
	a.log.Info("no longer allocating")
	return nil
}

// withCRD runs one term of informers and decisions until ctx ends or the CRD goes away.
func (a *Allocator) withCRD(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.watchCRD(ctx, cancel)
	newTerm(a).serve(ctx)
}
