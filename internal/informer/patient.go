package informer

import (
	"context"
	"math/rand/v2"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/watchlist"
)

// Interval is how often a Patient call retries: half a second, give or take half of it.
const Interval = 500 * time.Millisecond

// Patient wraps lw: its List and Watch retry the failures transient reports as such
// inside the call (lease.Classify's rule, passed in).
func Patient(lw cache.ListerWatcherWithContext, transient func(error) bool) cache.ListerWatcherWithContext {
	return patient{lw: lw, transient: transient}
}

type patient struct {
	lw        cache.ListerWatcherWithContext
	transient func(error) bool
	noStream  bool // the client cannot serve watch-list (client-go's fake): the reflector lists
}

// IsWatchListSemanticsUnSupported tells the reflector whether to use a plain list instead
// of a streaming watch-list, as client-go's own informers do for their client.
func (p patient) IsWatchListSemanticsUnSupported() bool { return p.noStream }

func (p patient) ListWithContext(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	return retry(ctx, p.transient, func() (runtime.Object, error) { return p.lw.ListWithContext(ctx, opts) })
}

func (p patient) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return retry(ctx, p.transient, func() (watch.Interface, error) { return p.lw.WatchWithContext(ctx, opts) })
}

func retry[T any](ctx context.Context, transient func(error) bool, call func() (T, error)) (T, error) {
	for {
		v, err := call()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return v, err
		}
		d := Interval/2 + time.Duration(rand.Int64N(int64(Interval)))
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(d):
		}
	}
}

// List and Watch without a context are for callers of the older interface; the reflector
// uses the context variants.
func (p patient) List(opts metav1.ListOptions) (runtime.Object, error) {
	return p.ListWithContext(context.Background(), opts)
}

func (p patient) Watch(opts metav1.ListOptions) (watch.Interface, error) {
	return p.WatchWithContext(context.Background(), opts)
}

// New returns a shared informer over lw, made Patient, for objects like example. client is
// the clientset lw calls: it says whether watch-list is served (client-go's fake does not).
func New(lw cache.ListerWatcherWithContext, client any, transient func(error) bool, example runtime.Object) cache.SharedIndexInformer {
	p := patient{lw: lw, transient: transient, noStream: watchlist.DoesClientNotSupportWatchListSemantics(client)}
	return cache.NewSharedIndexInformerWithOptions(p, example,
		cache.SharedIndexInformerOptions{Indexers: cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}})
}

// Register makes f's informer for example's type a Patient one over lw, so that f's typed
// accessors (f.Core().V1().Services().Informer(), their listers) return it. Call it before
// anything asks f for that type.
func Register(f informers.SharedInformerFactory, example runtime.Object, lw cache.ListerWatcherWithContext,
	client any, transient func(error) bool) {
	f.InformerFor(example, func(kubernetes.Interface, time.Duration) cache.SharedIndexInformer {
		return New(lw, client, transient, example)
	})
}
