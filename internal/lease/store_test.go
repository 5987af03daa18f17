package lease

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease/leasetest"
)

const ns = "vipkeeper-system"

func newStore(t *testing.T, cs *fake.Clientset, node string, now *time.Time) *Store {
	t.Helper()
	s, err := New(Config{Client: cs.CoordinationV1(), Namespace: ns, Identity: node,
		Duration: 15 * time.Second, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type spec struct {
	Holder      string
	Duration    int32
	Acquire     time.Time
	Renew       time.Time
	Transitions int32
}

func specOf(l *coordv1.Lease) spec {
	s := spec{Holder: holder(l), Transitions: transitions(l)}
	if d := l.Spec.LeaseDurationSeconds; d != nil {
		s.Duration = *d
	}
	if a := l.Spec.AcquireTime; a != nil {
		s.Acquire = a.Time.UTC()
	}
	if r := l.Spec.RenewTime; r != nil {
		s.Renew = r.Time.UTC()
	}
	return s
}

func TestStore_WritesLeasesTheWayClientGoDoes(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	leasetest.WithOptimisticConcurrency(cs)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := t0
	a, b := newStore(t, cs, "node-a", &now), newStore(t, cs, "node-b", &now)
	name := "vipkeeper-198-51-100-7"

	created, err := a.Write(ctx, name, election.OpCreate, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec{"node-a", 15, t0, t0, 0}, specOf(created)); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	if created.Labels[ManagedByLabel] != ManagedByValue {
		t.Errorf("created Lease lacks label %s=%s", ManagedByLabel, ManagedByValue)
	}

	now = t0.Add(2 * time.Second)
	renewed, err := a.Write(ctx, name, election.OpRenew, "tok", created)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec{"node-a", 15, t0, now, 0}, specOf(renewed)); diff != "" {
		t.Errorf("renew keeps acquireTime (-want +got):\n%s", diff)
	}

	if _, err := b.Write(ctx, name, election.OpAcquire, "tok", created); Classify(err) != election.ClassConflict {
		t.Fatalf("acquire on a stale resourceVersion: err = %v, want a conflict", err)
	}
	now = t0.Add(20 * time.Second)
	taken, err := b.Write(ctx, name, election.OpAcquire, "tok", renewed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec{"node-b", 15, now, now, 1}, specOf(taken)); diff != "" {
		t.Errorf("acquire from another holder (-want +got):\n%s", diff)
	}

	released, err := b.Write(ctx, name, election.OpRelease, "tok", taken)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec{"", 1, now, now, 1}, specOf(released)); diff != "" {
		t.Errorf("release, as ReleaseOnCancel writes it (-want +got):\n%s", diff)
	}
	now = t0.Add(30 * time.Second)
	retaken, err := a.Write(ctx, name, election.OpAcquire, "tok", released)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec{"node-a", 15, now, now, 2}, specOf(retaken)); diff != "" {
		t.Errorf("acquire of a released Lease counts a transition (-want +got):\n%s", diff)
	}
	released = retaken

	if _, err := a.Write(ctx, name, election.OpDelete, "tok", taken); Classify(err) != election.ClassConflict {
		t.Fatalf("delete on a stale resourceVersion: err = %v, want a conflict", err)
	}
	if _, err := a.Write(ctx, name, election.OpDelete, "tok", released); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Get(ctx, name); got != nil || err != nil {
		t.Errorf("after delete Get = %v, %v; want nil, nil", got, err)
	}
}

func TestStore_CreateOfAnExistingLeaseIsAConflict(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	leasetest.WithOptimisticConcurrency(cs)
	now := time.Now()
	a, b := newStore(t, cs, "node-a", &now), newStore(t, cs, "node-b", &now)
	if _, err := a.Write(ctx, "vipkeeper-198-51-100-8", election.OpCreate, "tok", nil); err != nil {
		t.Fatal(err)
	}
	_, err := b.Write(ctx, "vipkeeper-198-51-100-8", election.OpCreate, "tok", nil)
	if Classify(err) != election.ClassConflict {
		t.Fatalf("second create: err = %v, want a conflict", err)
	}
}

func TestToRecord_OfNoLeaseIsAnAbsentRecord(t *testing.T) {
	if diff := cmp.Diff(election.Record{}, ToRecord(nil)); diff != "" {
		t.Error(diff)
	}
}
