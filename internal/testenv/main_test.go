package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var shared = NewShared(Options{})

// defaultWait bounds every wait for the control plane to recover; it is a limit, not a target.
const defaultWait = 30 * time.Second

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// createLease creates Lease ns/name held by holder.
func createLease(t *testing.T, cs kubernetes.Interface, ns, name, holder string) *coordinationv1.Lease {
	t.Helper()
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder},
	}
	got, err := cs.CoordinationV1().Leases(ns).Create(t.Context(), l, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create lease %s/%s: %v", ns, name, err)
	}
	return got
}

// eventually calls f every 200ms until it succeeds or limit passes, and fails t then.
func eventually(t *testing.T, limit time.Duration, what string, f func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, limit, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *l.Spec.HolderIdentity)
}
