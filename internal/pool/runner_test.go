package pool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	fakediscovery "k8s.io/client-go/discovery/fake"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/lease/leasetest"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch/poolwatchtest"
)

// fakeCluster is a fake clientset (with resourceVersion CAS) and a fake dynamic client
// holding the given pools. The fake accepts dual-stack Services, which the IPv4-only
// test control plane refuses.
func fakeCluster(t *testing.T, pools ...*v1alpha1.VIPPool) (*fake.Clientset, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	cs := fake.NewClientset()
	leasetest.WithOptimisticConcurrency(cs)
	poolwatchtest.ServeCRD(cs)
	dyn := poolwatchtest.Dynamic(t, pools...)
	return cs, dyn
}

func TestRunner_DualStackOnAFakeCluster(t *testing.T) {
	cs, dyn := fakeCluster(t, vpool("p", 0, addrs("198.51.100.0/30", "2001:db8::/126")))
	for _, s := range []*corev1.Service{
		svc("ns", "req", 1, families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv6Protocol, corev1.IPv4Protocol)),
		svc("ns", "prefer", 2, families(corev1.IPFamilyPolicyPreferDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)),
		svc("ns", "v6", 3, families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)),
		svc("ns", "req-late", 4, families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)),
	} {
		if _, err := cs.CoreV1().Services("ns").Create(t.Context(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	a, err := New(Config{Client: cs, Dynamic: dyn, Recorder: rec,
		Logger: slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	want := map[string]string{"req": "2001:db8::1,198.51.100.1", "prefer": "198.51.100.2,2001:db8::2", "v6": "2001:db8::3", "req-late": ""}
	eventually(t, "dual-stack allocations", func(ctx context.Context) error {
		for name, ips := range want {
			s, err := cs.CoreV1().Services("ns").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got := s.Annotations[AnnotationAllocatedIPs]; got != ips {
				return fmt.Errorf("Service %s has %q, want %q", name, got, ips)
			}
		}
		return rec.has("Service ns/req-late", ReasonAllocationFailed, "RequireDualStack")
	})
	eventually(t, "pool status", func(ctx context.Context) error {
		u, err := dyn.Resource(v1alpha1.Resource).Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		var vp v1alpha1.VIPPool
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &vp); err != nil {
			return err
		}
		if got := summary(vp.Status); got != "5/0 Exhausted,Ready" {
			return fmt.Errorf("status %s", got)
		}
		return nil
	})
}

func TestAllocator_PoolsAreOffUntilTheCRDIsInstalledSaidOnce(t *testing.T) {
	cs, dyn := fakeCluster(t, vpool("p", 0, addrs("198.51.100.0/30")))
	if _, err := cs.CoreV1().Services("ns").Create(t.Context(), svc("ns", "web", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	disc := &poolwatchtest.GatedDiscovery{FakeDiscovery: cs.Discovery().(*fakediscovery.FakeDiscovery)}
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	a, err := New(Config{Client: cs, Dynamic: dyn, Discovery: disc, Recorder: &recorder{}, Metrics: reg,
		CRDPoll: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(300 * time.Millisecond) // about 30 discovery polls without the CRD
	if n := strings.Count(logs.String(), "VIPPool CRD not installed"); n != 1 {
		t.Errorf("the missing CRD was logged %d times, want once:\n%s", n, logs.String())
	}
	if got := testutil.ToFloat64(a.m.enabled); got != 0 {
		t.Errorf("vipkeeper_pools_enabled = %v without the CRD, want 0", got)
	}
	disc.Installed.Store(true)
	eventually(t, "web gets an IP once the CRD is served", func(ctx context.Context) error {
		s, err := cs.CoreV1().Services("ns").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || s.Annotations[AnnotationAllocatedIPs] != "198.51.100.1" {
			return fmt.Errorf("not yet: %v %v", s.Annotations, err)
		}
		return nil
	})
	if got := testutil.ToFloat64(a.m.enabled); got != 1 {
		t.Errorf("vipkeeper_pools_enabled = %v with the CRD, want 1", got)
	}
	eventually(t, "pool usage metrics", func(context.Context) error {
		if got := testutil.ToFloat64(a.m.addresses.WithLabelValues("p", "allocated")); got != 1 {
			return fmt.Errorf("vipkeeper_pool_addresses{pool=p,state=allocated} = %v, want 1", got)
		}
		return nil
	})
	if got := testutil.ToFloat64(a.m.addresses.WithLabelValues("p", "free")); got != 1 {
		t.Errorf("vipkeeper_pool_addresses{pool=p,state=free} = %v, want 1", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
