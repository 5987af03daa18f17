package lease

import (
	"context"
	"fmt"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/informer"
)

// Source is one informer over vipkeeper's Leases (both kinds) in one namespace. Nodes learn
// of changes from its watch, never by polling each Lease, so steady-state reads do not grow
// with nodes x VIPs. It is Patient (internal/informer): after an outage it resumes within
// about half a second of the API server answering.
type Source struct {
	lister coordlisters.LeaseLister
	inf    cache.SharedIndexInformer
	ns     string
}

// NewSource watches the Leases labelled as vipkeeper's in namespace.
func NewSource(client kubernetes.Interface, namespace string) *Source {
	sel := ManagedByLabel + "=" + ManagedByValue
	leases := client.CoordinationV1().Leases(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			return leases.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			return leases.Watch(ctx, o)
		},
	}
	inf := informer.New(lw, client, Transient, &coordv1.Lease{})
	return &Source{lister: coordlisters.NewLeaseLister(inf.GetIndexer()), inf: inf, ns: namespace}
}

// Handler gets every change of one of our Leases: the record (absent for a deletion) and
// the resourceVersion it was seen at (of the deletion, for a deletion).
type Handler func(ref election.Ref, rec election.Record, rv string)

// Start registers h, starts the informer and returns once the cache is synced. The
// informer runs until ctx ends.
func (s *Source) Start(ctx context.Context, h Handler) error {
	_, err := s.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.deliver(h, o, false) },
		UpdateFunc: func(_, o any) { s.deliver(h, o, false) },
		DeleteFunc: func(o any) { s.deliver(h, o, true) },
	})
	if err != nil {
		return fmt.Errorf("lease informer %s: %w", s.ns, err)
	}
	go s.inf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), s.inf.HasSynced) {
		return fmt.Errorf("lease informer %s: %w", s.ns, context.Cause(ctx))
	}
	return nil
}

func (s *Source) deliver(h Handler, o any, deleted bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	l, ok := o.(*coordv1.Lease)
	if !ok {
		return
	}
	ref, ok := RefOf(l)
	if !ok {
		return
	}
	if deleted {
		h(ref, election.Record{}, l.ResourceVersion)
		return
	}
	h(ref, ToRecord(l), l.ResourceVersion)
}

// Cached is the cached record of ref and its resourceVersion ("" when absent).
func (s *Source) Cached(ref election.Ref) (election.Record, string) {
	l, err := s.lister.Leases(s.ns).Get(NameOf(ref))
	if err != nil {
		return election.Record{}, ""
	}
	return ToRecord(l), l.ResourceVersion
}

// Each calls f for every cached Lease of ours.
func (s *Source) Each(f func(ref election.Ref, rec election.Record, rv string)) {
	ls, err := s.lister.Leases(s.ns).List(labels.Everything())
	if err != nil {
		return
	}
	for _, l := range ls {
		if ref, ok := RefOf(l); ok {
			f(ref, ToRecord(l), l.ResourceVersion)
		}
	}
}
