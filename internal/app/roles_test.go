package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/vipkeeper/vipkeeper/internal/announce/announcetest"
	"github.com/vipkeeper/vipkeeper/internal/inspect"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

var shared = testenv.NewShared(testenv.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

const (
	deployDir = "../../deploy"
	systemNS  = "vipkeeper-system"
	waitLimit = 60 * time.Second // a limit, not a target
)

var fast = Timing{LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second}

// TestRoles_EachRoleDoesItsJobWithOnlyTheShippedRBAC applies the rendered chart (deploy/)
// to a real kube-apiserver, runs the controller and an agent in-process, each with a token
// of its own ServiceAccount, and checks: the controller says once that pools are off while
// the VIPPool CRD is missing, picks the CRD up when it is installed, allocates from a
// VIPPool and writes the Service's status; the agent takes the VIP's Lease (on an
// in-memory data plane); `vipkeeper status` shows it; and the agent's token is refused
// (403) patching a Service or writing a Lease in another namespace.
func TestRoles_EachRoleDoesItsJobWithOnlyTheShippedRBAC(t *testing.T) {
	env := shared.Env(t)
	admin := kubernetes.NewForConfigOrDie(env.AdminConfig())
	ctx := t.Context()
	if _, err := testenv.ApplyFile(ctx, env.AdminConfig(), filepath.Join(deployDir, "vipkeeper.yaml"), nil); err != nil {
		t.Fatal(err)
	}
	agentRC, ctrlRC := token(t, env, "vipkeeper-agent"), token(t, env, "vipkeeper-controller")

	metrics, logs := freeAddr(t), &syncLog{}
	startRole(t, "controller", func(ctx context.Context) error {
		return RunControllerWith(ctx, ControllerConfig{Common: common(metrics), Identity: "ctrl-0"},
			slog.New(slog.NewTextHandler(logs, nil)), ctrlRC)
	})
	eventually(t, "pools are off without the CRD, said in the metric", func() error {
		return metricIs(metrics, "vipkeeper_pools_enabled 0")
	})
	time.Sleep(6 * time.Second) // more than one discovery poll: it must not be said again
	if n := strings.Count(logs.String(), "VIPPool CRD not installed"); n != 1 {
		t.Errorf("the missing CRD was logged %d times, want once", n)
	}

	if _, err := testenv.ApplyFile(ctx, env.AdminConfig(), filepath.Join(deployDir, "crds", "vipkeeper.io_vippools.yaml"), nil); err != nil {
		t.Fatal(err)
	}
	applyPool(t, env)
	mustCreate(t, admin, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}})
	web := lbService("web")
	if _, err := admin.CoreV1().Services("default").Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("203.0.113.201")
	eventually(t, "the controller allocates from the VIPPool and writes status", func() error {
		s, err := admin.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ing := s.Status.LoadBalancer.Ingress
		if s.Annotations[svcrules.AnnotationAllocatedIPs] != vip.String() || len(ing) != 1 || ing[0].IP != vip.String() {
			return fmt.Errorf("annotations %v, ingress %v", s.Annotations, ing)
		}
		return nil
	})
	if err := metricIs(metrics, "vipkeeper_pools_enabled 1"); err != nil {
		t.Error(err)
	}

	plane := &fakePlane{Fake: announcetest.New(announcetest.Config{})}
	startRole(t, "agent", func(ctx context.Context) error {
		cfg := AgentConfig{Common: common(""), NodeName: "node-a", LeaseQPS: 50, LeaseBurst: 100, StopTimeout: 3 * time.Second}
		return RunAgentOn(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), agentRC, plane, nil, nil)
	})
	eventually(t, "the agent takes the VIP's Lease and announces", func() error {
		l, err := admin.CoordinationV1().Leases(systemNS).Get(ctx, lease.Name(vip), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if h := l.Spec.HolderIdentity; h == nil || *h != "node-a" || !plane.Holds(vip) {
			return fmt.Errorf("holder %v, announced %v", h, plane.Holds(vip))
		}
		return nil
	})
	checkStatusView(t, admin, vip)
	checkAgentIsRefused(t, agentRC)
}

// checkStatusView: `vipkeeper status` from the API shows the VIP, its Service, its holder
// and the candidates of the agents' rules.
func checkStatusView(t *testing.T, admin kubernetes.Interface, vip netip.Addr) {
	t.Helper()
	in, err := inspect.Gather(t.Context(), admin, systemNS)
	if err != nil {
		t.Fatal(err)
	}
	rows := inspect.Build(in)
	var got *inspect.Row
	for i := range rows {
		if rows[i].VIP == vip {
			got = &rows[i]
		}
	}
	if got == nil || strings.Join(got.Services, ",") != "default/web" || got.Holder != "node-a" ||
		strings.Join(got.Candidates, ",") != "node-a" || got.LastRenew == nil || got.LastTransition == nil {
		t.Errorf("status row for %s: %+v", vip, got)
	}
	var b strings.Builder
	if err := inspect.Print(&b, rows, inspect.FormatWide, time.Now()); err != nil || !strings.Contains(b.String(), "node-a") {
		t.Errorf("status -o wide: %v\n%s", err, b.String())
	}
}

// checkAgentIsRefused: the agent's token may not write Services or Leases elsewhere.
func checkAgentIsRefused(t *testing.T, rc *rest.Config) {
	t.Helper()
	cs := kubernetes.NewForConfigOrDie(rc)
	ctx := t.Context()
	_, err := cs.CoreV1().Services("default").Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"vipkeeper.io/allocated-ips":"203.0.113.9"}}}`), metav1.PatchOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("agent patching a Service: err = %v, want 403 Forbidden", err)
	}
	_, err = cs.CoreV1().Services("default").UpdateStatus(ctx, lbService("web"), metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("agent writing Service status: err = %v, want 403 Forbidden", err)
	}
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "stolen", Namespace: "default"}}
	if _, err := cs.CoordinationV1().Leases("default").Create(ctx, l, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("agent creating a Lease in another namespace: err = %v, want 403 Forbidden", err)
	}
}

func common(metricsAddr string) Common {
	return Common{Namespace: systemNS, Timing: fast, MetricsAddr: metricsAddr, LoadBalancerClass: svcrules.DefaultClass,
		Log: LogConfig{Level: "info", Format: "text"}}
}

func token(t *testing.T, env *testenv.Env, sa string) *rest.Config {
	t.Helper()
	rc, err := env.ServiceAccountConfig(t.Context(), systemNS, sa)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// startRole runs a role until the test ends and fails the test if it returns an error.
func startRole(t *testing.T, name string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", name, err)
		}
	})
}

func applyPool(t *testing.T, env *testenv.Env) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pool.yaml")
	pool := "apiVersion: vipkeeper.io/v1alpha1\nkind: VIPPool\nmetadata: {name: rbac}\nspec: {addresses: [\"203.0.113.200/29\"]}\n"
	if err := os.WriteFile(p, []byte(pool), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the VIPPool API is served", func() error {
		_, err := testenv.ApplyFile(t.Context(), env.AdminConfig(), p, nil)
		return err
	})
}

func lbService(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: new(svcrules.DefaultClass),
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}}
}

func mustCreate(t *testing.T, cs kubernetes.Interface, n *corev1.Node) {
	t.Helper()
	if _, err := cs.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metricIs reports whether the /metrics page at addr has line.
func metricIs(addr, line string) error {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), "\n"+line+"\n") {
		return fmt.Errorf("no line %q in /metrics", line)
	}
	return nil
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || t.Context().Err() != nil {
			t.Fatalf("%s: still not after %v: %v", what, waitLimit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fakePlane is the in-memory data plane that can carry any IP.
type fakePlane struct{ *announcetest.Fake }

func (fakePlane) CanCarryOn(netip.Addr, []string) error { return nil }

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
