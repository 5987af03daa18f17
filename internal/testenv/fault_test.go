package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// What a Lease Update returns while etcd does not answer (kube-apiserver v1.37.2, client-go
// v0.37.2, observed here; lease.Classify depends on it):
//
//   - Server-side timeout (query ?timeout=2s, client deadline longer): *errors.StatusError,
//     Code 504, Reason "Timeout"; apierrors.IsTimeout is true, IsServerTimeout is false.
//     Error(): "the server was unable to return a response in the time allotted, but may
//     still be processing the request (put leases.coordination.k8s.io frozen-server-timeout)".
//     The server's body has no kind, so client-go builds that generic error and keeps the body
//     in Details.Causes[0].Message: {"metadata":{},"status":"Failure","message":"Timeout:
//     request did not complete within the allotted timeout","reason":"Timeout","details":{},
//     "code":504}.
//   - rest.Config.Timeout = 2s (client-go then sends ?timeout=2s too and sets a 2s context):
//     the client gives up first. A *url.Error, no status: `Put "https://127.0.0.1:<port>/apis/
//     coordination.k8s.io/v1/namespaces/<ns>/leases/<name>?timeout=2s": context deadline
//     exceeded`, sometimes with " (Client.Timeout exceeded while awaiting headers)";
//     errors.Is(err, context.DeadlineExceeded) holds. The 504 can win only by a scheduling hair.
//
// Either way the write is ambiguous: the held request reaches etcd on Resume and may land.

func TestFrozenEtcd_LeaseUpdateTimesOutAndMayLandAfterResume(t *testing.T) {
	tests := []struct {
		name   string
		update func(ctx context.Context, env *Env, l *coordinationv1.Lease) error
		check  func(t *testing.T, err error)
	}{
		{name: "frozen-server-timeout", update: updateWithTimeoutParam, check: want504Timeout},
		{name: "frozen-client-timeout", update: updateWithConfigTimeout, check: wantDeadlineOr504},
	}
	env := shared.Env(t)
	admin, ns := clientset(t, env.AdminConfig()), env.Namespace(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := createLease(t, admin, ns, tc.name, "node-a")
			want := base.DeepCopy()
			want.Spec.HolderIdentity = ptrTo("node-b")
			env.Proxy().Freeze()
			t.Cleanup(env.Proxy().Resume)
			ctx, cancel := context.WithTimeout(t.Context(), defaultWait)
			err := tc.update(ctx, env, want)
			cancel()
			tc.check(t, err)
			env.Proxy().Resume()
			landed := settle(t, admin, base, want)
			t.Logf("%s: the timed-out write landed after Resume: %v", tc.name, landed)
		})
	}
}

func updateWithTimeoutParam(ctx context.Context, env *Env, l *coordinationv1.Lease) error {
	cs, err := kubernetes.NewForConfig(env.AdminConfig())
	if err != nil {
		return err
	}
	return cs.CoordinationV1().RESTClient().Put().Namespace(l.Namespace).Resource("leases").
		Name(l.Name).Param("timeout", "2s").Body(l).Do(ctx).Error()
}

func updateWithConfigTimeout(ctx context.Context, env *Env, l *coordinationv1.Lease) error {
	cfg := env.AdminConfig()
	cfg.Timeout = 2 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = cs.CoordinationV1().Leases(l.Namespace).Update(ctx, l, metav1.UpdateOptions{})
	return err
}

func want504Timeout(t *testing.T, err error) {
	t.Helper()
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Code != 504 || !apierrors.IsTimeout(err) {
		t.Fatalf("update while frozen: %#v, want a 504 with reason Timeout", err)
	}
	t.Logf("504 error text: %q; server body: %+v", err.Error(), se.ErrStatus.Details)
}

func wantDeadlineOr504(t *testing.T, err error) {
	t.Helper()
	if apierrors.IsTimeout(err) {
		t.Logf("the server's 504 won the race: %q", err.Error())
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("update while frozen: %#v, want a client-side deadline or a 504", err)
	}
	t.Logf("client-side timeout text: %q", err.Error())
}

// settle waits until the Lease shows the wanted holder: either the timed-out write landed,
// or the same write retried on the base resourceVersion does. It reports the first case.
func settle(t *testing.T, cs kubernetes.Interface, base, want *coordinationv1.Lease) bool {
	t.Helper()
	landed := false
	eventually(t, defaultWait, "lease "+base.Name+" after Resume", func(ctx context.Context) error {
		got, err := cs.CoordinationV1().Leases(base.Namespace).Get(ctx, base.Name, metav1.GetOptions{})
		switch {
		case err != nil:
			return err
		case holderOf(got) == `"node-b"`:
			landed = true // our retry returns at once when it succeeds, so this is the held write
			return nil
		case got.ResourceVersion != base.ResourceVersion:
			t.Fatalf("lease changed to holder %s rv %s: neither the old nor the new record", holderOf(got), got.ResourceVersion)
		}
		_, err = cs.CoordinationV1().Leases(base.Namespace).Update(ctx, want, metav1.UpdateOptions{})
		return err // a 409 means the held write landed meanwhile: the next Get shows it
	})
	return landed
}

func TestResetEtcdConnections_APIServerReconnects(t *testing.T) {
	env := shared.Env(t)
	cs, ns := clientset(t, env.AdminConfig()), env.Namespace(t)
	createLease(t, cs, ns, "reset", "node-a")
	if n := env.Proxy().activeLinks(); n == 0 {
		t.Fatal("kube-apiserver has no connection through the proxy")
	}
	env.Proxy().Reset()
	var first error
	eventually(t, defaultWait, "renew after Reset", func(ctx context.Context) error {
		err := renew(ctx, cs, ns, "reset")
		if first == nil && err != nil {
			first = err
		}
		return err
	})
	t.Logf("first error after Reset (nil if none): %v", first)
}

func TestDelayedEtcd_LeaseWriteIsSlowerButLands(t *testing.T) {
	env := shared.Env(t)
	cs, ns := clientset(t, env.AdminConfig()), env.Namespace(t)
	createLease(t, cs, ns, "delay", "node-a")
	const d = 300 * time.Millisecond
	env.Proxy().Delay(d)
	t.Cleanup(func() { env.Proxy().Delay(0) })
	start := time.Now()
	if err := renew(t.Context(), cs, ns, "delay"); err != nil {
		t.Fatalf("renew through a %v delay: %v", d, err)
	}
	// The write crosses the proxy at least once each way; a lower bound cannot flake.
	if took := time.Since(start); took < d {
		t.Errorf("renew took %v, want at least the %v delay", took, d)
	}
}

// renew reads Lease ns/name and writes it back with a new renewTime.
func renew(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	l, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
	_, err = cs.CoordinationV1().Leases(ns).Update(ctx, l, metav1.UpdateOptions{})
	return err
}

func ptrTo[T any](v T) *T { return &v }
