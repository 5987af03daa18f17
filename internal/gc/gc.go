package gc

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Config wires a Collector.
type Config struct {
	Client    kubernetes.Interface
	Store     *lease.Store // writes as the controller (its identity names the revoker)
	Namespace string
	Class     svcrules.Class
	Timing    Timing
	Every     time.Duration // how often it looks (default Timing.LeaseDuration / 2)
	Logger    *slog.Logger
}

// Validate reports the first missing or invalid field.
func (c Config) Validate() error {
	switch {
	case c.Client == nil || c.Store == nil:
		return fmt.Errorf("gc: Client and Store are required")
	case c.Namespace == "":
		return fmt.Errorf("gc: Namespace is empty")
	case c.Timing.Grace <= 0 || c.Timing.LeaseDuration <= 0:
		return fmt.Errorf("gc: Grace %v and LeaseDuration %v must be positive", c.Timing.Grace, c.Timing.LeaseDuration)
	}
	return nil
}

// Collector runs Decide every Every while the controller replica leads (a leader.Runnable).
type Collector struct{ cfg Config }

// New returns a Collector for cfg.
func New(cfg Config) (*Collector, error) {
	if cfg.Every == 0 {
		cfg.Every = cfg.Timing.LeaseDuration / 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg}, nil
}

// Run collects until ctx ends (one leadership term). Its informers live for the term.
func (c *Collector) Run(ctx context.Context) error {
	src := lease.NewSource(c.cfg.Client, c.cfg.Namespace)
	if err := src.Start(ctx, func(election.Ref, election.Record, string) {}); err != nil {
		return err
	}
	f := informers.NewSharedInformerFactory(c.cfg.Client, 0)
	svcs, nodes := f.Core().V1().Services(), f.Core().V1().Nodes()
	svcs.Informer()
	nodes.Informer()
	f.Start(ctx.Done())
	defer f.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcs.Informer().HasSynced, nodes.Informer().HasSynced) {
		return nil // the term ended before the caches synced
	}
	st := &State{}
	tick := time.NewTicker(c.cfg.Every)
	defer tick.Stop()
	for {
		c.pass(ctx, st, src, svcs.Lister().List, nodes.Lister().List)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

type lister[T any] func(labels.Selector) ([]T, error)

// pass looks once and executes what Decide says, one write at a time.
func (c *Collector) pass(ctx context.Context, st *State, src *lease.Source, svcs lister[*corev1.Service], nodes lister[*corev1.Node]) {
	st.Records = map[election.Ref]election.Record{}
	src.Each(func(ref election.Ref, rec election.Record, _ string) { st.Records[ref] = rec })
	st.Wanted, st.Nodes = c.wanted(svcs, nodes), map[string]bool{}
	ns, _ := nodes(labels.Everything())
	for _, n := range ns {
		st.Nodes[n.Name] = true
	}
	for _, w := range Decide(time.Now(), st, c.cfg.Timing) {
		wctx, cancel := context.WithTimeout(ctx, c.cfg.Timing.LeaseDuration)
		_, class, err := c.cfg.Store.Do(wctx, w)
		cancel()
		log := c.cfg.Logger.With("lease", w.Ref.String(), "op", w.Op.String(), "reason", w.Reason)
		if class != election.ClassNone {
			log.Warn("lease collection failed; retried on the next pass", "class", class.String(), "err", err)
			continue
		}
		log.Info("lease collected")
	}
}

func (c *Collector) wanted(svcs lister[*corev1.Service], nodes lister[*corev1.Node]) map[netip.Addr]bool {
	s, _ := svcs(labels.Everything())
	n, _ := nodes(labels.Everything())
	vips, _ := svcrules.Resolve(svcrules.Input{Services: s, Nodes: n, Class: c.cfg.Class})
	out := make(map[netip.Addr]bool, len(vips))
	for ip := range vips {
		out[ip] = true
	}
	return out
}
