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
