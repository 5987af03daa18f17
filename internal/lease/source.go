package lease

import (
	"context"
	"fmt"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	"k8s.io/client-go/tools/cache"
)

// Source is one shared informer over vipkeeper's Leases in one namespace. Successors learn
// of changes from its watch, never by polling each Lease, so steady-state reads do not grow
// with candidates x VIPs.
type Source struct {
	factory informers.SharedInformerFactory
	lister  coordlisters.LeaseLister
	inf     cache.SharedIndexInformer
	ns      string
}

// NewSource watches the Leases labelled as vipkeeper's in namespace.
func NewSource(client kubernetes.Interface, namespace string) *Source {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = ManagedByLabel + "=" + ManagedByValue
		}))
	li := f.Coordination().V1().Leases()
	return &Source{factory: f, lister: li.Lister(), inf: li.Informer(), ns: namespace}
}

// Start registers h, starts the informer and returns once the cache is synced. The
// informer runs until ctx ends. h gets nil for a deleted Lease, with the deletion's
// resourceVersion.
func (s *Source) Start(ctx context.Context, h func(name string, l *coordv1.Lease, rv string)) error {
	_, err := s.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.deliver(h, o, false) },
		UpdateFunc: func(_, o any) { s.deliver(h, o, false) },
		DeleteFunc: func(o any) { s.deliver(h, o, true) },
	})
	if err != nil {
		return fmt.Errorf("lease informer %s: %w", s.ns, err)
	}
	s.factory.Start(ctx.Done())
	go func() { <-ctx.Done(); s.factory.Shutdown() }()
	if !cache.WaitForCacheSync(ctx.Done(), s.inf.HasSynced) {
		return fmt.Errorf("lease informer %s: %w", s.ns, context.Cause(ctx))
	}
	return nil
}

func (s *Source) deliver(h func(string, *coordv1.Lease, string), o any, deleted bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	l, ok := o.(*coordv1.Lease)
	if !ok {
		return
	}
	if deleted {
		h(l.Name, nil, l.ResourceVersion)
		return
	}
	h(l.Name, l, l.ResourceVersion)
}

// Cached returns the cached Lease, or nil.
func (s *Source) Cached(name string) *coordv1.Lease {
	l, err := s.lister.Leases(s.ns).Get(name)
	if err != nil {
		return nil
	}
	return l
}
