package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// WatchConfig wires a Watcher.
type WatchConfig struct {
	Client    kubernetes.Interface // Secrets of Namespace, this node's Node, Events
	Dynamic   dynamic.Interface    // BGPPeers, BGPAdvertisements, VIPPools and their status
	Namespace string               // where the peers' password Secrets live
	NodeName  string
	Timing    Timing
	Speaker   *Speaker
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	// Debounce is how long a change waits so that a burst is resolved once (50ms).
	Debounce time.Duration
}

// Validate reports what is missing.
func (c WatchConfig) Validate() error {
	var errs []error
	req := func(ok bool, what string) {
		if !ok {
			errs = append(errs, fmt.Errorf("bgp watch config: %s is required", what))
		}
	}
	req(c.Client != nil, "Client")
	req(c.Dynamic != nil, "Dynamic")
	req(c.Namespace != "", "Namespace")
	req(c.NodeName != "", "NodeName")
	req(c.Speaker != nil, "Speaker")
	req(c.Recorder != nil, "Recorder")
	if c.Timing.LeaseDuration <= c.Timing.RenewDeadline {
		errs = append(errs, fmt.Errorf("bgp watch config: lease duration %v must exceed renew deadline %v",
			c.Timing.LeaseDuration, c.Timing.RenewDeadline))
	}
	return errors.Join(errs...)
}

// Watcher feeds the Speaker the node's plan, computed from the BGP objects, VIPPools,
// the peers' Secrets and this node's labels, and writes the status and Events.
type Watcher struct {
	cfg     WatchConfig
	log     *slog.Logger
	typed   informers.SharedInformerFactory
	node    informers.SharedInformerFactory
	dyn     dynamicinformer.DynamicSharedInformerFactory
	listers map[schema.GroupVersionResource]cache.GenericLister
	synced  []cache.InformerSynced
	kick    chan struct{}
	ready   atomic.Bool
	status  *statusWriter
}

// NewWatcher checks cfg and builds the informers; nothing runs before Run.
func NewWatcher(cfg WatchConfig) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cfg: cfg, log: cfg.Logger.With("component", "bgp", "node", cfg.NodeName),
		kick: make(chan struct{}, 1), listers: map[schema.GroupVersionResource]cache.GenericLister{},
		typed: informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithNamespace(cfg.Namespace)),
		node: informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0, informers.WithTweakListOptions(
			func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", cfg.NodeName).String()
			})),
		dyn: dynamicinformer.NewDynamicSharedInformerFactory(cfg.Dynamic, 0)}
	w.status = &statusWriter{dyn: cfg.Dynamic, rec: cfg.Recorder, node: cfg.NodeName, log: w.log,
		written: map[string]string{}, peers: map[string]bool{}}
	w.watch(w.typed.Core().V1().Secrets().Informer())
	w.watch(w.node.Core().V1().Nodes().Informer())
	for _, gvr := range []schema.GroupVersionResource{v1alpha1.BGPPeerResource, v1alpha1.BGPAdvertisementResource, v1alpha1.Resource} {
		inf := w.dyn.ForResource(gvr)
		w.listers[gvr] = inf.Lister()
		w.watch(inf.Informer())
	}
	return w, nil
}

func (w *Watcher) watch(inf cache.SharedIndexInformer) {
	// AddEventHandler fails only on a stopped informer; these are new.
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { w.poke() }, UpdateFunc: func(any, any) { w.poke() }, DeleteFunc: func(any) { w.poke() }})
	w.synced = append(w.synced, inf.HasSynced)
}

func (w *Watcher) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// HasSynced reports whether the first plan from synced caches has been handed over.
func (w *Watcher) HasSynced() bool { return w.ready.Load() }

// Run watches until ctx ends; on the way out it removes this node's status entries.
func (w *Watcher) Run(ctx context.Context) error {
	for _, f := range []interface{ Start(<-chan struct{}) }{w.typed, w.node, w.dyn} {
		f.Start(ctx.Done())
	}
	defer w.dyn.Shutdown()
	defer w.node.Shutdown()
	defer w.typed.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), w.synced...) {
		return nil
	}
	w.loop(ctx)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	w.status.forget(sctx)
	return nil
}

func (w *Watcher) loop(ctx context.Context) {
	w.resolve(ctx)
	tick := time.NewTicker(10 * time.Second) // status retries and Secret rotation
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
			if !sleep(ctx, w.cfg.Debounce) {
				return
			}
			w.resolve(ctx)
		case <-w.cfg.Speaker.SessionChanges():
			w.status.sessions(ctx, w.cfg.Speaker)
		case <-tick.C:
			w.resolve(ctx)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// resolve computes the plan from the caches, hands it to the speaker and writes status.
func (w *Watcher) resolve(ctx context.Context) {
	in := w.input()
	plan := Resolve(in)
	if err := w.cfg.Speaker.SetPlan(ctx, plan); err != nil && !errors.Is(err, ErrClosed) {
		w.log.Error("applying the BGP configuration", "err", err)
	}
	w.ready.Store(true)
	w.status.advertisements(ctx, in.Ads, plan)
	w.status.problems(ctx, in.Peers, plan, w.cfg.Speaker)
}

func (w *Watcher) input() Input {
	in := Input{Node: w.cfg.NodeName, Timing: w.cfg.Timing, Secret: w.secret}
	if n, err := w.node.Core().V1().Nodes().Lister().Get(w.cfg.NodeName); err == nil {
		in.NodeLabels = n.Labels
	}
	in.Peers = listAs[v1alpha1.BGPPeer](w, v1alpha1.BGPPeerResource)
	in.Ads = listAs[v1alpha1.BGPAdvertisement](w, v1alpha1.BGPAdvertisementResource)
	in.Pools = listAs[v1alpha1.VIPPool](w, v1alpha1.Resource)
	return in
}

// listAs lists one resource from its cache and converts each object; one that does not
// convert is skipped with a log line (admission validates the schema, so this is rare).
func listAs[T any](w *Watcher, gvr schema.GroupVersionResource) []*T {
	objs, err := w.listers[gvr].List(everything)
	if err != nil {
		return nil
	}
	out := make([]*T, 0, len(objs))
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		v := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, v); err != nil {
			w.log.Warn("object does not convert; ignored", "resource", gvr.Resource, "name", u.GetName(), "err", err)
			continue
		}
		out = append(out, v)
	}
	return out
}

func (w *Watcher) secret(name, key string) (string, error) {
	s, err := w.typed.Core().V1().Secrets().Lister().Secrets(w.cfg.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("not found in namespace %s", w.cfg.Namespace)
	}
	if err != nil {
		return "", err
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("has no key %q", key)
	}
	return string(v), nil
}

var everything = labels.Everything()
