package poolwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/informer"
)

// Config configures a Source. Zero fields take the defaults.
type Config struct {
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	// Poll is how often discovery is asked whether the CRD is served while it is not
	// (5 s), ServedPoll while it is (Poll), and Retry how soon again after discovery failed
	// (informer.Interval, 0.5 s): the agents hold their first Wants until the pools are known,
	// so after an API outage at start-up they must learn it within the informers' interval,
	// not a Poll later.
	Poll, ServedPoll, Retry time.Duration
	// OnChange, if set, is called after the pools may have changed; it must not block.
	OnChange func()
	Logger   *slog.Logger
}

// Validate reports what is missing.
func (c Config) Validate() error {
	if c.Dynamic == nil || c.Discovery == nil {
		return errors.New("poolwatch config: Dynamic and Discovery are required")
	}
	if c.Poll < 0 || c.ServedPoll < 0 || c.Retry < 0 {
		return errors.New("poolwatch config: Poll, ServedPoll and Retry must not be negative")
	}
	return nil
}

// Source is the VIPPools of the cluster, kept by an informer while the CRD is served.
type Source struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	synced bool                // discovery answered and, if served, the informer synced
	on     *bool               // last discovery answer, to log changes once
	lister cache.GenericLister // nil while the CRD is not served
}

// New checks cfg and returns a Source; nothing runs before Run.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.ServedPoll == 0 {
		cfg.ServedPoll = cfg.Poll
	}
	if cfg.Retry == 0 {
		cfg.Retry = informer.Interval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	return &Source{cfg: cfg, log: cfg.Logger}, nil
}

// HasSynced reports whether the pools are known: discovery answered, and while the CRD is
// served the informer has listed once. It stays true once true.
func (s *Source) HasSynced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced
}

// List returns the cached pools (none while the CRD is not served). An object that does
// not convert is returned with its metadata only, which every reader finds invalid.
func (s *Source) List() []*v1alpha1.VIPPool {
	s.mu.Lock()
	l := s.lister
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	objs, _ := l.List(labels.Everything()) // a cache List never fails
	out := make([]*v1alpha1.VIPPool, 0, len(objs))
	for _, o := range objs {
		vp, _ := FromObject(o)
		out = append(out, vp)
	}
	return out
}

// Run follows the CRD and its pools until ctx ends.
func (s *Source) Run(ctx context.Context) error {
	for {
		wait := s.cfg.Poll
		on, err := Served(s.cfg.Discovery)
		switch {
		case err != nil:
			s.log.Debug("VIPPool discovery failed; asking again", "err", err)
			wait = s.cfg.Retry
		case on:
			s.note(true)
			s.serve(ctx)
		default:
			s.note(false)
			s.set(nil, true)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// serve runs an informer until ctx ends or discovery, asked every ServedPoll, says the
// CRD is gone.
func (s *Source) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := dynamicinformer.NewDynamicSharedInformerFactory(s.cfg.Dynamic, 0)
	inf := f.ForResource(v1alpha1.Resource)
	changed := func(any) { s.cfg.OnChange() }
	// AddEventHandler fails only on a stopped informer; this one is new.
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: changed,
		UpdateFunc: func(_, cur any) { changed(cur) }, DeleteFunc: changed})
	f.Start(ctx.Done())
	defer f.Shutdown()
	defer cancel() // before Shutdown waits for the informer
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return
	}
	s.set(inf.Lister(), true)
	defer s.set(nil, true)
	UntilGone(ctx, s.cfg.ServedPoll, func() (bool, bool) {
		on, err := Served(s.cfg.Discovery)
		return on, err == nil
	})
}

// UntilGone asks served every interval until it answers (with ok) that the CRD is not
// served, and then reports true; false when ctx ends first.
func UntilGone(ctx context.Context, every time.Duration, served func() (on, ok bool)) bool {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		if on, ok := served(); ok && !on {
			return true
		}
	}
}

func (s *Source) set(l cache.GenericLister, synced bool) {
	s.mu.Lock()
	changed := (s.lister == nil) != (l == nil) || s.synced != synced
	s.lister, s.synced = l, synced
	s.mu.Unlock()
	if changed {
		s.cfg.OnChange()
	}
}

// note logs a change of the CRD's presence once.
func (s *Source) note(on bool) {
	s.mu.Lock()
	changed := s.on == nil || *s.on != on
	s.on = &on
	s.mu.Unlock()
	switch {
	case !changed:
	case on:
		s.log.Info("VIPPool CRD served: reading pools", "crd", v1alpha1.Resource.GroupResource().String())
	default:
		s.log.Info("no VIPPool CRD: reading no pools until it is served (every VIP is announced as in no pool)",
			"crd", v1alpha1.Resource.GroupResource().String())
	}
}

// Served asks discovery whether vipkeeper.io/v1alpha1 serves vippools. A group that does
// not exist answers 404, which is "no"; any other error is returned.
func Served(disc discovery.DiscoveryInterface) (bool, error) {
	gv := v1alpha1.GroupVersion.String()
	list, err := groupResources(disc, gv)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", gv, err)
	}
	for _, r := range list.APIResources {
		if r.Name == v1alpha1.Resource.Resource {
			return true, nil
		}
	}
	return false, nil
}

// servedTimeout bounds one discovery request.
const servedTimeout = 10 * time.Second

// groupResources is disc.ServerResourcesForGroupVersion(gv) without client-go's own retries:
// a kube-apiserver that has just started answers a CRD's group with 503 and Retry-After 5 s
// until its APIService is available, and client-go would sleep those 5 s inside the call
// (measured: the cold start's VIP came 4-6 s after kube-apiserver was ready). The error comes
// back at once instead, and the caller asks again after its Retry.
func groupResources(disc discovery.DiscoveryInterface, gv string) (*metav1.APIResourceList, error) {
	rc := disc.RESTClient()
	if rc == nil || reflect.ValueOf(rc).IsNil() { // fakes have no REST client
		return disc.ServerResourcesForGroupVersion(gv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), servedTimeout)
	defer cancel()
	list := &metav1.APIResourceList{GroupVersion: gv}
	if err := rc.Get().AbsPath("/apis", gv).MaxRetries(0).Do(ctx).Into(list); err != nil {
		return nil, err
	}
	return list, nil
}

// FromObject converts a VIPPool from an informer or a List. One that does not convert
// comes back with its metadata only (and the error), which every reader finds invalid
// (spec.addresses is empty).
func FromObject(o runtime.Object) (*v1alpha1.VIPPool, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return &v1alpha1.VIPPool{}, fmt.Errorf("VIPPool: unexpected %T", o)
	}
	vp := &v1alpha1.VIPPool{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, vp); err != nil {
		return &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: u.GetName(), UID: u.GetUID(),
			Generation: u.GetGeneration(), CreationTimestamp: u.GetCreationTimestamp()}}, fmt.Errorf("VIPPool %s: %w", u.GetName(), err)
	}
	return vp, nil
}

// List reads the pools once (for `vipkeeper status`); a missing CRD is no pools.
func List(ctx context.Context, dyn dynamic.Interface) ([]*v1alpha1.VIPPool, error) {
	list, err := dyn.Resource(v1alpha1.Resource).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list VIPPools: %w", err)
	}
	out := make([]*v1alpha1.VIPPool, 0, len(list.Items))
	for i := range list.Items {
		vp, _ := FromObject(&list.Items[i])
		out = append(out, vp)
	}
	return out, nil
}
