package pool

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// holdings watches the namespace's Services and fails the test if, at any observed
// moment, one allocated IP is held by two Services that do not share a sharing key.
type holdings struct {
	mu     sync.Mutex
	byName map[string]*corev1.Service
	bad    []string
}

func (h *harness) watchHoldings() *holdings {
	h.t.Helper()
	w, err := h.cs.CoreV1().Services(h.ns).Watch(h.t.Context(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatalf("watch Services: %v", err)
	}
	hs := &holdings{byName: map[string]*corev1.Service{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if s, ok := ev.Object.(*corev1.Service); ok {
				hs.observe(ev.Type, s)
			}
		}
	}()
	h.t.Cleanup(func() { w.Stop(); <-done })
	return hs
}

func (hs *holdings) observe(typ watch.EventType, s *corev1.Service) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if typ == watch.Deleted {
		delete(hs.byName, s.Name)
		return
	}
	hs.byName[s.Name] = s
	holders := map[netip.Addr]*corev1.Service{}
	for _, o := range hs.byName {
		ips, _ := parseIPs(o.Annotations[AnnotationAllocatedIPs])
		for _, ip := range ips {
			prev := holders[ip]
			k := o.Annotations[AnnotationSharingKey]
			if prev != nil && (k == "" || prev.Annotations[AnnotationSharingKey] != k) && len(hs.bad) < 10 {
				hs.bad = append(hs.bad, fmt.Sprintf("%s held by %s and %s", ip, prev.Name, o.Name))
			}
			holders[ip] = o
		}
	}
}

func (hs *holdings) violations() []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.bad
}

// createMany creates n Services from 4 goroutines at once; Services 0..9 come in pairs
// sharing a key (ports 80 and 443).
func (h *harness) createMany(n int) {
	h.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				s := h.newService(fmt.Sprintf("s%02d", i))
				if i < 10 {
					key(fmt.Sprintf("pair-%d", i/2))(s)
					ports(80 + int32(i%2)*363)(s)
				}
				if _, err := h.cs.CoreV1().Services(h.ns).Create(h.t.Context(), s, metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		h.t.Fatalf("create Service: %v", err)
	}
}

// allHaveDistinctIPs checks every Service has one IP and only key pairs share one.
func (h *harness) allHaveDistinctIPs(n int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		got, err := h.allocatedIPs(ctx)
		if err != nil {
			return err
		}
		owner := map[string]string{}
		for i := range n {
			name := fmt.Sprintf("s%02d", i)
			ip := got[name]
			if _, err := netip.ParseAddr(ip); err != nil {
				return fmt.Errorf("Service %s has allocated-ips %q", name, ip)
			}
			if prev, ok := owner[ip]; ok && !(i < 10 && prev == fmt.Sprintf("s%02d", i-1) && i%2 == 1) {
				return fmt.Errorf("%s is held by %s and %s", ip, prev, name)
			}
			owner[ip] = name
		}
		if len(owner) != n-5 {
			return fmt.Errorf("%d distinct IPs, want %d (five pairs share)", len(owner), n-5)
		}
		return nil
	}
}

func TestAllocator_SixtyServicesCreatedAtOnceWithThreeAllocatorsNeverShareAnIP(t *testing.T) {
	h := newHarness(t)
	name := h.pool("p", "198.51.100.0/26") // 62 addresses
	hs := h.watchHoldings()
	allocs := h.start(3)
	h.createMany(60)
	h.eventually("every Service has its own IP", h.allHaveDistinctIPs(60))
	h.eventually("pool status counts 55 used and 7 free", func(ctx context.Context) error {
		return h.poolCounts(ctx, name, 55, 7)
	})
	if v := hs.violations(); len(v) > 0 {
		t.Errorf("an IP was held by two Services at some moment: %q", v)
	}
	leaders := 0
	for _, a := range allocs {
		if a.IsLeader() {
			leaders++
		}
	}
	if leaders > 1 {
		t.Errorf("%d allocators lead at once", leaders)
	}
}

func TestAllocator_AnotherAllocatorTakesOverWhenTheLeaderStops(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "198.51.100.64/26")
	first := h.startAs(h.cfg, 1)[0]
	h.eventually("the first allocator leads", func(context.Context) error {
		if !first.IsLeader() {
			return errors.New("not leading yet")
		}
		return nil
	})
	h.start(2)
	h.createMany(30)
	h.eventually("some Services got an IP", func(ctx context.Context) error {
		got, err := h.allocatedIPs(ctx)
		if err != nil || len(got) == 0 || got["s00"] == "" {
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
	h.stopped(first)
	h.createMany2(30, 30)
	h.eventually("all 60 Services have distinct IPs after the takeover", h.allHaveDistinctIPs(60))
}

// createMany2 creates Services s<from>..s<from+n-1> without keys.
func (h *harness) createMany2(from, n int) {
	h.t.Helper()
	for i := from; i < from+n; i++ {
		s := h.newService(fmt.Sprintf("s%02d", i))
		if _, err := h.cs.CoreV1().Services(h.ns).Create(h.t.Context(), s, metav1.CreateOptions{}); err != nil {
			h.t.Fatalf("create Service: %v", err)
		}
	}
}

func (h *harness) poolCounts(ctx context.Context, name string, allocated, free int64) error {
	vp, err := h.getPool(ctx, name)
	if err != nil {
		return err
	}
	if vp.Status.Allocated != allocated || vp.Status.Free != free {
		return fmt.Errorf("status %d allocated, %d free; want %d, %d", vp.Status.Allocated, vp.Status.Free, allocated, free)
	}
	return nil
}

func (h *harness) condition(name, typ string, want metav1.ConditionStatus) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		vp, err := h.getPool(ctx, name)
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(vp.Status.Conditions, typ)
		if c == nil || c.Status != want || c.ObservedGeneration != vp.Generation {
			return fmt.Errorf("condition %s is %+v, want %s at generation %d", typ, c, want, vp.Generation)
		}
		return nil
	}
}

func (h *harness) annotation(name, want string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		got, err := h.allocatedIPs(ctx)
		if err != nil {
			return err
		}
		if got[name] != want {
			return fmt.Errorf("Service %s has allocated-ips %q, want %q", name, got[name], want)
		}
		return nil
	}
}

func TestAllocator_ExhaustionIsReportedAndADeletedServiceFreesItsIP(t *testing.T) {
	h := newHarness(t)
	name := h.pool("p", "198.51.100.128/30")
	h.start(1)
	h.service("a")
	h.eventually("a gets .129", h.annotation("a", "198.51.100.129"))
	h.service("b")
	h.eventually("b gets .130", h.annotation("b", "198.51.100.130"))
	h.service("c")
	h.eventually("c is refused with an Event", func(context.Context) error {
		return h.rec.has("Service "+h.ns+"/c", ReasonAllocationFailed, "no free IPv4 address in VIPPool "+name)
	})
	h.eventually("the pool is Exhausted", h.condition(name, v1alpha1.ConditionExhausted, metav1.ConditionTrue))
	h.eventually("the pool has an Exhausted Event", func(context.Context) error {
		return h.rec.has("VIPPool /"+name, "Warning", v1alpha1.ConditionExhausted)
	})
	if err := h.cs.CoreV1().Services(h.ns).Delete(t.Context(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("c gets the freed .129", h.annotation("c", "198.51.100.129"))
	h.eventually("pool counts", func(ctx context.Context) error { return h.poolCounts(ctx, name, 2, 0) })
}

func TestAllocator_APoolThatShrinksKeepsItsServices(t *testing.T) {
	h := newHarness(t)
	name := h.pool("p", "198.51.100.192/29")
	h.start(1)
	for _, s := range []string{"a", "b", "c"} {
		h.service(s)
		h.eventually(s+" gets an IP", func(ctx context.Context) error {
			got, err := h.allocatedIPs(ctx)
			if err == nil && got[s] == "" {
				err = errors.New("no IP yet")
			}
			return err
		})
	}
	h.setAddresses(name, "198.51.100.194/31")
	h.eventually("ShrunkInUse", h.condition(name, v1alpha1.ConditionShrunkInUse, metav1.ConditionTrue))
	want := map[string]string{"a": "198.51.100.193", "b": "198.51.100.194", "c": "198.51.100.195"}
	got, err := h.allocatedIPs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allocations after the shrink (-want +got):\n%s", diff)
	}
	h.eventually("counts after the shrink", func(ctx context.Context) error { return h.poolCounts(ctx, name, 2, 0) })
}

func TestAllocator_SharingKeyIsHonouredOrRefused(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "203.0.113.0/29")
	h.start(1)
	h.service("a-http", key("web"))
	h.eventually("a-http gets .1", h.annotation("a-http", "203.0.113.1"))
	h.service("b-https", key("web"), ports(443))
	h.eventually("b-https shares .1", h.annotation("b-https", "203.0.113.1"))
	h.service("c-clash", key("web"))
	h.eventually("c-clash is refused", func(context.Context) error {
		return h.rec.has("Service "+h.ns+"/c-clash", ReasonSharingRefused, "port TCP/80")
	})
	h.service("d-nokey")
	h.eventually("d-nokey gets its own .2", h.annotation("d-nokey", "203.0.113.2"))
	if err := h.annotation("c-clash", "")(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestAllocator_BadAndOverlappingPoolsAreMarkedAndNotUsed(t *testing.T) {
	h := newHarness(t)
	bad := h.pool("bad", "203.0.113.40-203.0.113.35")
	older := h.pool("older", "203.0.113.48/29")
	younger := h.pool("younger", "203.0.113.52/30")
	h.start(1)
	h.eventually("bad is Invalid", h.condition(bad, v1alpha1.ConditionInvalid, metav1.ConditionTrue))
	h.eventually("bad is not Ready", h.condition(bad, v1alpha1.ConditionReady, metav1.ConditionFalse))
	h.eventually("younger is not Ready", h.condition(younger, v1alpha1.ConditionReady, metav1.ConditionFalse))
	h.eventually("older is Ready", h.condition(older, v1alpha1.ConditionReady, metav1.ConditionTrue))
	h.eventually("older is marked Overlapping", h.condition(older, v1alpha1.ConditionOverlapping, metav1.ConditionTrue))
	h.eventually("an Invalid Event", func(context.Context) error {
		return h.rec.has("VIPPool /"+bad, v1alpha1.ConditionInvalid, "starts after it ends")
	})
	h.service("web")
	h.eventually("web gets older's first address", h.annotation("web", "203.0.113.49"))
}

func TestAllocator_HealsADoubleAllocationInFavourOfTheOlderService(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "198.51.100.224/29")
	// As two overlapping leaders could leave it: both hold .225.
	h.service("a-old", allocated("198.51.100.225", ""))
	h.service("b-young", allocated("198.51.100.225", ""))
	h.start(1)
	h.eventually("b-young moves to .226", h.annotation("b-young", "198.51.100.226"))
	h.eventually("a-old keeps .225", h.annotation("a-old", "198.51.100.225"))
	h.eventually("an IPConflict Event", func(context.Context) error {
		return h.rec.has("Service "+h.ns+"/b-young", ReasonIPConflict)
	})
}

func TestAllocator_ReleasesWhenTheServiceAsksForAnIPOrStopsBeingALoadBalancer(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "198.51.100.232/29")
	h.start(1)
	h.service("asks")
	h.service("leaves")
	h.eventually("asks gets .233", h.annotation("asks", "198.51.100.233"))
	h.eventually("leaves gets .234", h.annotation("leaves", "198.51.100.234"))
	h.update("asks", func(s *corev1.Service) { ann(AnnotationIPs, "203.0.113.77")(s) })
	h.update("leaves", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.LoadBalancerClass, s.Spec.ExternalTrafficPolicy = corev1.ServiceTypeClusterIP, nil, ""
		s.Spec.AllocateLoadBalancerNodePorts = nil
		for i := range s.Spec.Ports {
			s.Spec.Ports[i].NodePort = 0
		}
	})
	h.eventually("asks lost its allocation", h.annotation("asks", ""))
	h.eventually("leaves lost its allocation", h.annotation("leaves", ""))
}

func (h *harness) update(name string, f func(*corev1.Service)) {
	h.t.Helper()
	h.eventually("update Service "+name, func(ctx context.Context) error {
		s, err := h.cs.CoreV1().Services(h.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		f(s)
		_, err = h.cs.CoreV1().Services(h.ns).Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
}

func TestAnnotationPatch_WithAStaleResourceVersionIsRefusedByTheAPIServer(t *testing.T) {
	h := newHarness(t)
	base := h.service("web")
	h.update("web", func(s *corev1.Service) { s.Labels = map[string]string{"changed": "yes"} })
	patch := annotationPatch(base.ResourceVersion, Assignment{IPs: "198.51.100.1"})
	_, err := h.cs.CoreV1().Services(h.ns).Patch(t.Context(), "web", types.MergePatchType, patch, metav1.PatchOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("patch conditioned on a stale resourceVersion: err %v, want 409 Conflict", err)
	}
	cur, err := h.cs.CoreV1().Services(h.ns).Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	patch = annotationPatch(cur.ResourceVersion, Assignment{IPs: "198.51.100.1"})
	if _, err := h.cs.CoreV1().Services(h.ns).Patch(t.Context(), "web", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch conditioned on the current resourceVersion: %v", err)
	}
	h.eventually("the current patch landed", h.annotation("web", "198.51.100.1"))
}
