package pool

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch"
)

// term is one leadership term. Its informers start with the term, so a new leader
// begins from a fresh list and never from a cache that lags its predecessor's writes.
type term struct {
	a          *Allocator
	log        *slog.Logger
	typed      informers.SharedInformerFactory
	dyn        dynamicinformer.DynamicSharedInformerFactory
	services   corelisters.ServiceLister
	namespaces corelisters.NamespaceLister
	pools      cache.GenericLister
	synced     []cache.InformerSynced
	kick       chan struct{} // cap 1: something changed

	// Owned by the term goroutine.
	overlay map[types.NamespacedName]written
	emitted map[Problem]bool
	backoff time.Duration
}

// written is a Service as this term wrote it, used while the cache still shows base.
type written struct {
	base string // resourceVersion the write was conditioned on
	svc  *corev1.Service
}

func newTerm(a *Allocator) *term {
	typed := informers.NewSharedInformerFactory(a.cfg.Client, 0)
	dyn := dynamicinformer.NewDynamicSharedInformerFactory(a.cfg.Dynamic, 0)
	t := &term{a: a, log: a.log, typed: typed, dyn: dyn, kick: make(chan struct{}, 1),
		overlay: map[types.NamespacedName]written{}, emitted: map[Problem]bool{}}
	t.services = typed.Core().V1().Services().Lister()
	t.namespaces = typed.Core().V1().Namespaces().Lister()
	pools := dyn.ForResource(v1alpha1.Resource)
	t.pools = pools.Lister()
	for _, inf := range []cache.SharedIndexInformer{typed.Core().V1().Services().Informer(),
		typed.Core().V1().Namespaces().Informer(), pools.Informer()} {
		// AddEventHandler fails only on a stopped informer; these are new.
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { t.poke() }, UpdateFunc: func(any, any) { t.poke() }, DeleteFunc: func(any) { t.poke() }})
		t.synced = append(t.synced, inf.HasSynced)
	}
	return t
}

func (t *term) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// serve runs the term until ctx ends.
func (t *term) serve(ctx context.Context) {
	t.typed.Start(ctx.Done())
	t.dyn.Start(ctx.Done())
	defer t.dyn.Shutdown()
	defer t.typed.Shutdown()
	if t.waitSynced(ctx) {
		t.loop(ctx)
	}
}

func (t *term) waitSynced(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), t.synced...)
}

// loop decides at once on the first change after a quiet period, then holds off for
// Debounce so a burst is decided once; a failed write retries with backoff.
func (t *term) loop(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		if t.pass(ctx) {
			t.backoff = 0
			retry.Stop()
		} else {
			t.backoff = min(max(2*t.backoff, t.a.cfg.RetryMin), t.a.cfg.RetryMax)
			retry.Reset(t.backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
		case <-retry.C:
		}
		if !sleep(ctx, t.a.cfg.Debounce) {
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

// pass decides once and carries it out; false if some write failed.
func (t *term) pass(ctx context.Context) bool {
	in, byName := t.input()
	out := Decide(in)
	ok := t.writeServices(ctx, out.Assignments, byName)
	ok = t.writePools(ctx, out.Pools) && ok
	t.a.m.setPools(out.Pools)
	t.emit(out.Problems)
	return ok
}

func (t *term) input() (Input, map[types.NamespacedName]*corev1.Service) {
	in := Input{Class: Class{Name: t.a.cfg.Class, Default: t.a.cfg.DefaultClass}, Namespaces: map[string]map[string]string{}}
	byName := map[types.NamespacedName]*corev1.Service{}
	svcs, _ := t.services.List(labels.Everything()) // a cache List never fails
	for _, s := range svcs {
		nn := nameOf(s)
		if w, ok := t.overlay[nn]; ok && w.base == s.ResourceVersion {
			s = w.svc // the cache has not caught up with our write yet
		}
		in.Services = append(in.Services, s)
		byName[nn] = s
	}
	for nn, w := range t.overlay {
		if cur, ok := byName[nn]; !ok || cur != w.svc {
			delete(t.overlay, nn) // caught up, or gone
		}
	}
	nss, _ := t.namespaces.List(labels.Everything())
	for _, ns := range nss {
		in.Namespaces[ns.Name] = ns.Labels
	}
	objs, _ := t.pools.List(labels.Everything())
	for _, o := range objs {
		in.Pools = append(in.Pools, t.toPool(o))
	}
	return in, byName
}

// toPool converts a cached VIPPool; one that does not convert is passed on empty, which
// Decide reports as invalid.
func (t *term) toPool(o runtime.Object) *v1alpha1.VIPPool {
	vp, err := poolwatch.FromObject(o)
	if err != nil {
		t.log.Warn("VIPPool does not convert; treating it as empty", "pool", vp.Name, "err", err)
	}
	return vp
}
