package ingress

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// FieldManager names the status writes.
const FieldManager = "vipkeeper-controller"

// Config configures a Writer. Zero durations take the defaults.
type Config struct {
	Client   kubernetes.Interface
	Recorder record.EventRecorder
	Class    svcrules.Class
	// Dynamic reads the VIPPools (poolwatch): their spec.l2 decides candidacy, hence the
	// NoCandidate Events. Nil: no pools.
	Dynamic dynamic.Interface
	// IgnoreExcludeLB counts nodes labelled exclude-from-external-load-balancers too.
	IgnoreExcludeLB bool
	// Debounce is the longest a change waits so that a burst is handled once (20 ms).
	Debounce time.Duration
	// StatusRetry is how long to wait after a status write failed for good (5 s).
	StatusRetry time.Duration
	Logger      *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Debounce == 0 {
		c.Debounce = 20 * time.Millisecond
	}
	if c.StatusRetry == 0 {
		c.StatusRetry = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is missing.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Client == nil || c.Recorder == nil {
		errs = append(errs, errors.New("ingress config: Client and Recorder are required"))
	}
	if c.Debounce < 0 || c.StatusRetry < 0 {
		errs = append(errs, errors.New("ingress config: Debounce and StatusRetry must not be negative"))
	}
	return errors.Join(errs...)
}

// Writer writes Service status and the cluster-level Events during a leadership term.
type Writer struct{ cfg Config }

// New checks cfg and returns a Writer.
func New(cfg Config) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Writer{cfg: cfg.withDefaults()}, nil
}

// Run serves one leadership term: it returns when ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	t, err := newTerm(w.cfg)
	if err != nil {
		return err
	}
	t.factory.Start(ctx.Done())
	defer t.factory.Shutdown()
	if t.pools != nil {
		var wg sync.WaitGroup
		defer wg.Wait()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		wg.Go(func() { _ = t.pools.Run(ctx) })
	}
	if !cache.WaitForCacheSync(ctx.Done(), t.synced...) {
		return nil // the term ended first
	}
	t.loop(ctx)
	return nil
}

// term is the state of one leadership term.
type term struct {
	cfg      Config
	log      *slog.Logger
	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	nodes    corelisters.NodeLister
	pools    *poolwatch.Source // nil without Config.Dynamic
	synced   []cache.InformerSynced
	kick     chan struct{}
	emitted  map[svcrules.Problem]bool
}

func newTerm(cfg Config) (*term, error) {
	f := informers.NewSharedInformerFactory(cfg.Client, 0)
	t := &term{cfg: cfg, log: cfg.Logger, factory: f, kick: make(chan struct{}, 1), emitted: map[svcrules.Problem]bool{},
		services: f.Core().V1().Services().Lister(), slices: f.Discovery().V1().EndpointSlices().Lister(),
		nodes: f.Core().V1().Nodes().Lister()}
	for _, inf := range []cache.SharedIndexInformer{f.Core().V1().Services().Informer(),
		f.Discovery().V1().EndpointSlices().Informer(), f.Core().V1().Nodes().Informer()} {
		// AddEventHandler fails only on a stopped informer; these are new.
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { t.poke() }, UpdateFunc: func(any, any) { t.poke() }, DeleteFunc: func(any) { t.poke() }})
		t.synced = append(t.synced, inf.HasSynced)
	}
	if cfg.Dynamic != nil {
		ps, err := poolwatch.New(poolwatch.Config{Dynamic: cfg.Dynamic, Discovery: cfg.Client.Discovery(),
			OnChange: t.poke, Logger: t.log})
		if err != nil {
			return nil, err
		}
		t.pools = ps
		t.synced = append(t.synced, ps.HasSynced)
	}
	return t, nil
}

func (t *term) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// loop handles a change at once after a quiet period, then holds off for Debounce; a
// failed status write is retried after StatusRetry.
func (t *term) loop(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		if !t.pass(ctx) {
			retry.Reset(t.cfg.StatusRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
		case <-retry.C:
		}
		if !sleep(ctx, t.cfg.Debounce) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// pass resolves once, writes the status that differs and records new problems; false if a
// status write failed.
func (t *term) pass(ctx context.Context) bool {
	in := t.input()
	vips, problems := svcrules.Resolve(in)
	ok := t.syncStatus(ctx, in.Services, accepted(vips), held(in, vips))
	controller.EmitNew(t.cfg.Recorder, problems, t.emitted, func(p svcrules.Problem) bool { return p.Node == "" }, t.lookup)
	return ok
}

func (t *term) input() svcrules.Input {
	in := svcrules.Input{Class: t.cfg.Class, IgnoreExcludeLB: t.cfg.IgnoreExcludeLB}
	if t.pools != nil {
		in.Pools = t.pools.List()
	}
	var errs [3]error // listers fail only on bad selectors
	in.Services, errs[0] = t.services.List(labels.Everything())
	in.EndpointSlices, errs[1] = t.slices.List(labels.Everything())
	in.Nodes, errs[2] = t.nodes.List(labels.Everything())
	if err := errors.Join(errs[:]...); err != nil {
		t.log.Error("list from informer cache", "err", err)
	}
	return in
}

func (t *term) lookup(nn types.NamespacedName) *corev1.Service {
	svc, err := t.services.Services(nn.Namespace).Get(nn.Name)
	if err != nil {
		return nil
	}
	return svc
}

// accepted inverts the VIPs: each Service's accepted VIPs, sorted.
func accepted(vips map[netip.Addr]svcrules.VIP) map[types.NamespacedName][]netip.Addr {
	w := make(map[netip.Addr]controller.Want, len(vips))
	for ip, v := range vips {
		w[ip] = controller.Want{IP: ip, Services: v.Services}
	}
	return controller.Accepted(w)
}
