package poolwatch

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch/poolwatchtest"
)

// A missing CRD is "no pools" and synced; when it appears the pools are read, and when it
// goes they are gone again, each change announced through OnChange.
func TestSource_FollowsTheCRDComingAndGoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset()
		poolwatchtest.ServeCRD(cs)
		disc := &poolwatchtest.GatedDiscovery{FakeDiscovery: cs.Discovery().(*fakediscovery.FakeDiscovery)}
		dyn := poolwatchtest.Dynamic(t, &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: "lan"},
			Spec: v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.0/28"}}})
		var changes atomic.Int32
		s, err := New(Config{Dynamic: dyn, Discovery: disc, Poll: time.Second,
			OnChange: func() { changes.Add(1) }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Run(t.Context()) }()
		synctest.Wait()
		if !s.HasSynced() || len(s.List()) != 0 {
			t.Fatalf("without the CRD: synced %v, pools %d; want synced and none", s.HasSynced(), len(s.List()))
		}
		disc.Installed.Store(true)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if got := s.List(); len(got) != 1 || got[0].Name != "lan" || got[0].Spec.Addresses[0] != "198.51.100.0/28" {
			t.Fatalf("with the CRD: pools %+v, want lan", got)
		}
		before := changes.Load()
		disc.Installed.Store(false)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if len(s.List()) != 0 || !s.HasSynced() || changes.Load() == before {
			t.Errorf("after the CRD went: pools %d, synced %v, changes %d -> %d", len(s.List()), s.HasSynced(), before, changes.Load())
		}
	})
}

// Discovery failing (the API server away at start-up) is asked again within the informers'
// interval, not a Poll later: the agents hold their first Wants until the pools are known.
func TestSource_LearnsThePoolsWithinAnIntervalOfTheAPIComingBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset()
		poolwatchtest.ServeCRD(cs)
		disc := &poolwatchtest.GatedDiscovery{FakeDiscovery: cs.Discovery().(*fakediscovery.FakeDiscovery)}
		disc.Installed.Store(true)
		disc.Down.Store(true)
		s, err := New(Config{Dynamic: poolwatchtest.Dynamic(t), Discovery: disc, Poll: time.Minute,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = s.Run(t.Context()) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if s.HasSynced() {
			t.Fatal("synced while discovery fails")
		}
		disc.Down.Store(false)
		back := time.Now()
		for !s.HasSynced() && time.Since(back) < time.Minute {
			time.Sleep(10 * time.Millisecond)
		}
		if took := time.Since(back); took > time.Second {
			t.Errorf("synced %v after discovery answered again (Poll 1m); want within a second", took)
		}
	})
}
