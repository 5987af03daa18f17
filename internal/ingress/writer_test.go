package ingress

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/leader"
	. "github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

const testNS, leaseName = "vipkeeper-system", "vipkeeper-controller"

type harness struct {
	cs  *fake.Clientset
	rec *record.FakeRecorder
}

// start runs the writer under leader election as replica "a" on cs until the bubble's
// test ends. Call it inside a synctest bubble.
func start(t *testing.T, cs *fake.Clientset) *harness {
	t.Helper()
	return startWith(t, cs, nil)
}

// startWith is start with mod applied to the writer's Config.
func startWith(t *testing.T, cs *fake.Clientset, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{cs: cs, rec: record.NewFakeRecorder(1000)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{Client: cs, Recorder: h.rec, Logger: log}
	if mod != nil {
		mod(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	el, err := leader.New(leader.Config{Leases: cs.CoordinationV1(), Namespace: testNS, Name: leaseName, Identity: "a",
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		Runnables: []leader.Named{{Name: "status", Runnable: w}}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = el.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *harness) ingress(t *testing.T, name string) []corev1.LoadBalancerIngress {
	t.Helper()
	s, err := h.cs.CoreV1().Services("ns").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return s.Status.LoadBalancer.Ingress
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func vipIngress(ips ...string) []corev1.LoadBalancerIngress {
	var out []corev1.LoadBalancerIngress
	for _, s := range ips {
		out = append(out, corev1.LoadBalancerIngress{IP: s, IPMode: new(corev1.LoadBalancerIPModeVIP)})
	}
	return out
}

func TestWriter_TheLeaderWritesStatusIngressOfOurClassOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, fake.NewClientset(Node("a"), Svc("web", IPs("198.51.100.7,2001:db8::7")),
			Svc("other", IPs("198.51.100.9"), Class("example.com/lb"))))
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff(vipIngress("198.51.100.7", "2001:db8::7"), h.ingress(t, "web")); diff != "" {
			t.Errorf("web ingress (-want +got):\n%s", diff)
		}
		if got := h.ingress(t, "other"); len(got) != 0 {
			t.Errorf("a Service of another class was touched: %v", got)
		}
	})
}

func TestWriter_AStandbyWritesNoStatusUntilItWinsTheElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		held := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: leaseName},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: new("b"), LeaseDurationSeconds: new(int32(15)),
				RenewTime: &metav1.MicroTime{Time: time.Now()}, AcquireTime: &metav1.MicroTime{Time: time.Now()}},
		}
		h := start(t, fake.NewClientset(Node("a"), held, Svc("web", IPs("198.51.100.7"))))
		time.Sleep(10 * time.Second) // less than the lease duration: b's term still runs
		synctest.Wait()
		if got := h.ingress(t, "web"); len(got) != 0 {
			t.Fatalf("a standby wrote status: %v", got)
		}
		time.Sleep(20 * time.Second) // b never renewed: a takes over
		synctest.Wait()
		if diff := cmp.Diff(vipIngress("198.51.100.7"), h.ingress(t, "web")); diff != "" {
			t.Errorf("after takeover (-want +got):\n%s", diff)
		}
	})
}

func TestWriter_ARefusedServiceGetsOneEventAndOthersAreUntouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, fake.NewClientset(Node("a"),
			Svc("old", IPs("198.51.100.7"), Age(0)), Svc("new", IPs("198.51.100.7"), Age(1)),
			Svc("bystander", IPs("198.51.100.8"), Age(2)), Svc("lonely", IPs("198.51.100.9"), Local(), Age(3))))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		want := []string{
			"Warning IPInUse 198.51.100.7 cannot be shared: Service ns/old uses it and both need the same vipkeeper.io/sharing-key",
			"Warning NoCandidate VIP 198.51.100.9 has no candidate node: externalTrafficPolicy is Local and no node has a ready local endpoint",
		}
		if diff := cmp.Diff(want, h.events(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("events, once despite status updates (-want +got):\n%s", diff)
		}
		for name, ing := range map[string][]corev1.LoadBalancerIngress{
			"old": vipIngress("198.51.100.7"), "new": nil, "bystander": vipIngress("198.51.100.8")} {
			if diff := cmp.Diff(ing, h.ingress(t, name), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s ingress (-want +got):\n%s", name, diff)
			}
		}
	})
}

func TestWriter_AStatusWriteRetriesOnConflictRereadingTheService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset(Node("a"))
		var conflicts, gets atomic.Int32
		cs.PrependReactor("update", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "status" && conflicts.Add(1) <= 2 {
				return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "services"}, "web", nil)
			}
			return false, nil, nil
		})
		cs.PrependReactor("get", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			gets.Add(1)
			return false, nil, nil
		})
		h := start(t, cs)
		time.Sleep(time.Second)
		if _, err := cs.CoreV1().Services("ns").Create(t.Context(), Svc("web", IPs("198.51.100.7")), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff(vipIngress("198.51.100.7"), h.ingress(t, "web")); diff != "" {
			t.Errorf("ingress (-want +got):\n%s", diff)
		}
		if conflicts.Load() < 3 || gets.Load() < 2+1 { // 2 re-reads + the test's own Get
			t.Errorf("want 3 status updates and 2 re-reads, got %d updates and %d gets", conflicts.Load(), gets.Load()-1)
		}
	})
}
