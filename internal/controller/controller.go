package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/poolwatch"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Config configures a Controller. Zero durations take the defaults.
type Config struct {
	Client    kubernetes.Interface // informers
	Elections Elections
	Recorder  record.EventRecorder // see NewRecorder; this node's own Events
	NodeName  string
	Class     Class
	// CanCarry says whether this node can put ip on one of interfaces (a pool's
	// spec.l2.interfaces; nil: its --interface); nil: this node can carry any IP.
	CanCarry func(ip netip.Addr, interfaces []string) error
	// Dynamic reads the VIPPools (poolwatch); nil: no pools.
	Dynamic dynamic.Interface
	// IgnoreExcludeLB counts nodes labelled exclude-from-external-load-balancers too.
	IgnoreExcludeLB bool
	// Debounce is the longest a change waits so that a burst is computed once (20 ms).
	Debounce time.Duration
	Logger   *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Debounce == 0 {
		c.Debounce = 20 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is missing or inconsistent (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	req := func(ok bool, what string) {
		if !ok {
			errs = append(errs, fmt.Errorf("controller config: %s is required", what))
		}
	}
	req(c.Client != nil, "Client")
	req(c.Elections != nil, "Elections")
	req(c.Recorder != nil, "Recorder")
	req(c.NodeName != "", "NodeName")
	if c.Debounce < 0 {
		errs = append(errs, errors.New("controller config: Debounce must not be negative"))
	}
	return errors.Join(errs...)
}

// Controller turns Services, EndpointSlices and Nodes into per-VIP Wants for this node and
// reports this node's own problems (CannotCarry) as Events.
type Controller struct {
	cfg      Config
	log      *slog.Logger
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	nodes    corelisters.NodeLister
	pools    *poolwatch.Source // nil without Config.Dynamic
	synced   []cache.InformerSynced
	kick     chan struct{} // cap 1: something changed
	started  atomic.Bool
	ready    atomic.Bool

	// Owned by the loop goroutine.
	sent         bool
	last         map[netip.Addr]Want
	lastProblems map[Problem]bool
	nodeEmitted  map[Problem]bool
}

// New builds a Controller and its informers; nothing runs before Run.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	f := informers.NewSharedInformerFactory(cfg.Client, 0)
	patientInformers(f, cfg.Client)
	c := &Controller{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), factory: f,
		services: f.Core().V1().Services().Lister(), slices: f.Discovery().V1().EndpointSlices().Lister(),
		nodes: f.Core().V1().Nodes().Lister(), kick: make(chan struct{}, 1), nodeEmitted: map[Problem]bool{}}
	for inf, changed := range map[cache.SharedIndexInformer]func(old, cur any) bool{
		f.Core().V1().Services().Informer():            func(old, cur any) bool { return true },
		f.Discovery().V1().EndpointSlices().Informer(): c.sliceChanged,
		f.Core().V1().Nodes().Informer():               nodeChanged,
	} {
		if _, err := inf.AddEventHandler(c.handler(changed)); err != nil {
			return nil, fmt.Errorf("add informer handler: %w", err)
		}
		c.synced = append(c.synced, inf.HasSynced)
	}
	if cfg.Dynamic != nil {
		// Every node asks discovery: not too often (the CRD rarely comes or goes).
		ps, err := poolwatch.New(poolwatch.Config{Dynamic: cfg.Dynamic, Discovery: cfg.Client.Discovery(),
			Poll: 10 * time.Second, ServedPoll: time.Minute, OnChange: func() { poke(c.kick) }, Logger: c.log})
		if err != nil {
			return nil, err
		}
		c.pools = ps
		c.synced = append(c.synced, ps.HasSynced)
	}
	return c, nil
}

// HasSynced reports whether the informers have synced and the first Want was delivered.
func (c *Controller) HasSynced() bool { return c.ready.Load() }

// Resync recomputes the wants although no object changed: something outside the API did
// (an interface lost its carrier, so CanCarry answers differently).
func (c *Controller) Resync() { poke(c.kick) }

// Run runs the informers and the compute loop until ctx ends. It may be called once.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("controller: Run called twice")
	}
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	if c.pools != nil {
		var wg sync.WaitGroup
		ctx2, cancel := context.WithCancel(ctx)
		defer wg.Wait()
		defer cancel()
		wg.Go(func() { _ = c.pools.Run(ctx2) })
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("controller: wait for informer caches: %w", ctx.Err())
	}
	c.loop(ctx)
	return nil
}

// loop recomputes at once on the first change after a quiet period, then holds off for
// Debounce so that a burst is coalesced: no change waits longer than Debounce.
func (c *Controller) loop(ctx context.Context) {
	c.recompute()
	c.ready.Store(true)
	hold := time.NewTimer(0)
	defer hold.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		c.recompute()
		hold.Reset(c.cfg.Debounce)
		select {
		case <-ctx.Done():
			return
		case <-hold.C:
		}
	}
}

func (c *Controller) recompute() {
	wants, problems := Compute(c.input())
	if !c.sent || !wantsEqual(wants, c.last) {
		c.sent, c.last = true, wants
		c.log.Info("wanted VIPs changed", "vips", len(wants), "eligible", countEligible(wants))
		c.cfg.Elections.Want(cloneWants(wants))
	}
	c.logProblems(problems)
	c.emitNodeProblems(problems)
}

func (c *Controller) input() Input {
	in := Input{NodeName: c.cfg.NodeName, Class: c.cfg.Class, CanCarry: c.cfg.CanCarry, IgnoreExcludeLB: c.cfg.IgnoreExcludeLB}
	if c.pools != nil {
		in.Pools = c.pools.List()
	}
	var errs [3]error // listers fail only on bad selectors; log and compute with what we have
	in.Services, errs[0] = c.services.List(labels.Everything())
	in.EndpointSlices, errs[1] = c.slices.List(labels.Everything())
	in.Nodes, errs[2] = c.nodes.List(labels.Everything())
	if err := errors.Join(errs[:]...); err != nil {
		c.log.Error("list from informer cache", "err", err)
	}
	return in
}

func (c *Controller) handler(changed func(old, cur any) bool) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if changed(nil, obj) {
				poke(c.kick)
			}
		},
		DeleteFunc: func(any) { poke(c.kick) },
		UpdateFunc: func(old, cur any) {
			if changed(old, cur) {
				poke(c.kick)
			}
		},
	}
}

// sliceChanged: only Local Services of our class look at endpoints (a Service created
// after its slices is computed with them when its own event arrives).
func (c *Controller) sliceChanged(_, cur any) bool {
	s, ok := cur.(*discoveryv1.EndpointSlice)
	if !ok {
		return true
	}
	svc, err := c.services.Services(s.Namespace).Get(s.Labels[discoveryv1.LabelServiceName])
	return err == nil && c.cfg.Class.Serves(svc) && svcrules.TrafficPolicy(svc) == corev1.ServiceExternalTrafficPolicyLocal
}

// nodeChanged: only the labels (the exclude label, pools' node selectors) and the
// addresses matter (never conditions: Ready flips in bulk when a control plane recovers,
// gardener#3947, metallb#615).
func nodeChanged(old, cur any) bool {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return !maps.Equal(o.Labels, n.Labels) || !slices.Equal(o.Status.Addresses, n.Status.Addresses)
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func wantsEqual(a, b map[netip.Addr]Want) bool {
	return maps.EqualFunc(a, b, func(x, y Want) bool {
		return x.IP == y.IP && x.Eligible == y.Eligible && x.Rank == y.Rank && slices.Equal(x.Ahead, y.Ahead) &&
			slices.Equal(x.Services, y.Services) && slices.Equal(x.Interfaces, y.Interfaces)
	})
}

func cloneWants(in map[netip.Addr]Want) map[netip.Addr]Want {
	out := make(map[netip.Addr]Want, len(in))
	for ip, w := range in {
		w.Services, w.Ahead, w.Interfaces = slices.Clone(w.Services), slices.Clone(w.Ahead), slices.Clone(w.Interfaces)
		out[ip] = w
	}
	return out
}

func countEligible(wants map[netip.Addr]Want) int {
	n := 0
	for _, w := range wants {
		if w.Eligible {
			n++
		}
	}
	return n
}

// lookup returns the cached Service, or nil.
func (c *Controller) lookup(nn types.NamespacedName) *corev1.Service {
	svc, err := c.services.Services(nn.Namespace).Get(nn.Name)
	if err != nil {
		return nil
	}
	return svc
}
