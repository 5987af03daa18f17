package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/leader"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

var shared = testenv.NewShared(testenv.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// waitLimit bounds every wait on the real API server; it is a limit, not a target.
const waitLimit = 90 * time.Second

var crdOnce sync.Once

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// harness is one test's view of the shared control plane: its own namespace (which
// also holds the allocator Lease) and its own loadBalancerClass, so the allocators of
// one test never see another test's Services.
type harness struct {
	t     *testing.T
	cfg   *rest.Config
	cs    kubernetes.Interface
	dyn   dynamic.Interface
	ns    string
	class string
	rec   *recorder
	logw  testWriter
	stops map[*Allocator]context.CancelFunc
	ids   int // replicas started
}

func newHarness(t *testing.T) *harness {
	logw := newTestWriter(t)
	env := shared.Env(t)
	cfg := env.AdminConfig()
	cfg.QPS, cfg.Burst = 500, 1000
	h := &harness{t: t, cfg: cfg, cs: kubernetes.NewForConfigOrDie(cfg), dyn: dynamic.NewForConfigOrDie(cfg),
		ns: env.Namespace(t), rec: &recorder{}, logw: logw,
		stops: map[*Allocator]context.CancelFunc{}}
	h.class = "vipkeeper.io/" + h.ns
	t.Cleanup(h.deleteServices) // after the allocators stop: cluster IPs are scarce (a /24)
	crdOnce.Do(func() { installCRD(t, h.dyn) })
	h.eventually("the VIPPool API is served", func(ctx context.Context) error {
		_, err := h.dyn.Resource(v1alpha1.Resource).List(ctx, metav1.ListOptions{Limit: 1})
		return err
	})
	return h
}

// installCRD creates the committed CRD and waits until it is Established.
func installCRD(t *testing.T, dyn dynamic.Interface) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "crds", "vipkeeper.io_vippools.yaml"))
	if err != nil {
		t.Fatalf("read CRD: %v", err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatalf("CRD YAML: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("CRD JSON: %v", err)
	}
	if _, err := dyn.Resource(crdGVR).Create(t.Context(), u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create CRD: %v", err)
	}
	eventually(t, "the CRD is Established", func(ctx context.Context) error {
		got, err := dyn.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, err := unstructured.NestedSlice(got.Object, "status", "conditions")
		if err != nil {
			return err
		}
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return errors.New("not Established yet")
	})
}

// start runs n allocators (identities node-0...) until the test ends.
func (h *harness) start(n int, mutate ...func(*Config)) []*Allocator {
	h.t.Helper()
	return h.startAs(h.cfg, n, mutate...)
}

func (h *harness) startAs(rc *rest.Config, n int, mutate ...func(*Config)) []*Allocator {
	h.t.Helper()
	var out []*Allocator
	for i := range n {
		cs := kubernetes.NewForConfigOrDie(rc)
		cfg := Config{Client: cs, Dynamic: dynamic.NewForConfigOrDie(rc), Class: h.class, Recorder: h.rec,
			Logger: slog.New(slog.NewTextHandler(h.logw, &slog.HandlerOptions{Level: slog.LevelWarn}))}
		for _, m := range mutate {
			m(&cfg)
		}
		a, err := New(cfg)
		if err != nil {
			h.t.Fatal(err)
		}
		h.ids++
		_ = i
		h.stops[a] = h.run(a, cs, fmt.Sprintf("replica-%d", h.ids))
		out = append(out, a)
	}
	return out
}

// run runs a under the controller role's leader election (one Lease in the test's
// namespace, short timings) until the test ends, and waits for it to return.
func (h *harness) run(a *Allocator, cs kubernetes.Interface, id string) context.CancelFunc {
	el, err := leader.New(leader.Config{Leases: cs.CoordinationV1(), Namespace: h.ns, Name: "vipkeeper-controller",
		Identity: id, LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond,
		Runnables: []leader.Named{{Name: "allocator", Runnable: a}},
		Logger:    slog.New(slog.NewTextHandler(h.logw, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := el.Run(ctx); err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}()
	h.t.Cleanup(func() { cancel(); <-done })
	return cancel
}

func (h *harness) deleteServices() {
	ctx := context.Background()
	list, err := h.cs.CoreV1().Services(h.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Logf("clean up Services: %v", err)
		return
	}
	for _, s := range list.Items {
		if err := h.cs.CoreV1().Services(h.ns).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			h.t.Logf("clean up Service %s: %v", s.Name, err)
		}
	}
}

// stopped stops a as SIGTERM would: it releases the Lease on its way out.
func (h *harness) stopped(a *Allocator) { h.stops[a]() }

// pool creates a cluster-scoped VIPPool named after the test namespace, admitting only
// that namespace, and deletes it when the test ends.
func (h *harness) pool(suffix string, addresses ...string) string {
	h.t.Helper()
	name := h.ns + "-" + suffix
	vp := &v1alpha1.VIPPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.VIPPoolSpec{Addresses: addresses, Namespaces: []string{h.ns}},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(vp)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.dyn.Resource(v1alpha1.Resource).Create(h.t.Context(), &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
		h.t.Fatalf("create VIPPool %s: %v", name, err)
	}
	h.t.Cleanup(func() {
		_ = h.dyn.Resource(v1alpha1.Resource).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// setAddresses replaces a pool's spec.addresses.
func (h *harness) setAddresses(name string, addresses ...string) {
	h.t.Helper()
	h.eventually("update VIPPool "+name, func(ctx context.Context) error {
		u, err := h.dyn.Resource(v1alpha1.Resource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		list := make([]any, len(addresses))
		for i, a := range addresses {
			list[i] = a
		}
		if err := unstructured.SetNestedSlice(u.Object, list, "spec", "addresses"); err != nil {
			return err
		}
		_, err = h.dyn.Resource(v1alpha1.Resource).Update(ctx, u, metav1.UpdateOptions{})
		return err
	})
}

func (h *harness) getPool(ctx context.Context, name string) (*v1alpha1.VIPPool, error) {
	u, err := h.dyn.Resource(v1alpha1.Resource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	vp := &v1alpha1.VIPPool{}
	return vp, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, vp)
}

// service creates a LoadBalancer Service of the harness class in its namespace.
func (h *harness) service(name string, opts ...svcOpt) *corev1.Service {
	h.t.Helper()
	s := h.newService(name, opts...)
	got, err := h.cs.CoreV1().Services(h.ns).Create(h.t.Context(), s, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatalf("create Service %s: %v", name, err)
	}
	return got
}

// newService builds a Service of the harness class for the API: no creation time, no
// node ports (the test control plane has no nodes).
func (h *harness) newService(name string, opts ...svcOpt) *corev1.Service {
	s := svc(h.ns, name, 0, append([]svcOpt{class(h.class)}, opts...)...)
	s.CreationTimestamp = metav1.Time{}
	noNodePorts := false
	s.Spec.AllocateLoadBalancerNodePorts = &noNodePorts
	return s
}

// allocatedIPs lists every Service of the namespace by its allocated annotation.
func (h *harness) allocatedIPs(ctx context.Context) (map[string]string, error) {
	list, err := h.cs.CoreV1().Services(h.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range list.Items {
		out[s.Name] = s.Annotations[AnnotationAllocatedIPs]
	}
	return out, nil
}

func (h *harness) eventually(what string, f func(ctx context.Context) error) {
	h.t.Helper()
	eventually(h.t, what, f)
}

// eventually calls f every 100 ms until it succeeds, and fails t after waitLimit.
func eventually(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || t.Context().Err() != nil {
			t.Fatalf("%s: still failing after %v: %v", what, waitLimit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recorder keeps Events as "Kind ns/name Type Reason: message".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Event(obj runtime.Object, typ, reason, msg string) {
	name := "?"
	if ref, ok := obj.(*corev1.ObjectReference); ok {
		name = fmt.Sprintf("%s %s/%s", ref.Kind, ref.Namespace, ref.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %s %s: %s", name, typ, reason, msg))
}

func (r *recorder) Eventf(obj runtime.Object, typ, reason, f string, args ...any) {
	r.Event(obj, typ, reason, fmt.Sprintf(f, args...))
}

func (r *recorder) AnnotatedEventf(obj runtime.Object, _ map[string]string, typ, reason, f string, args ...any) {
	r.Event(obj, typ, reason, fmt.Sprintf(f, args...))
}

// has reports whether an Event containing all parts was recorded.
func (r *recorder) has(parts ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if containsAll(e, parts) {
			return nil
		}
	}
	return fmt.Errorf("no Event with %q among %d", parts, len(r.events))
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// testWriter sends the allocators' warnings to the test log until the test is over.
type testWriter struct {
	t    *testing.T
	mu   *sync.Mutex
	done *bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, mu: &sync.Mutex{}, done: new(bool)}
	t.Cleanup(func() { // registered first, so it runs after every other cleanup
		w.mu.Lock()
		defer w.mu.Unlock()
		*w.done = true
	})
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
