// Package poolwatchtest serves VIPPools from client-go fakes, for the tests of the readers
// that follow them.
package poolwatchtest

import (
	"errors"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// Dynamic is a fake dynamic client holding pools (kept unstructured, as from a cluster).
func Dynamic(t testing.TB, pools ...*v1alpha1.VIPPool) *dynamicfake.FakeDynamicClient {
	t.Helper()
	var objs []runtime.Object
	for _, p := range pools {
		p.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{v1alpha1.Resource: "VIPPoolList"}, objs...)
}

// ServeCRD makes cs's discovery serve vippools.vipkeeper.io.
func ServeCRD(cs *fake.Clientset) {
	cs.Resources = []*metav1.APIResourceList{{GroupVersion: v1alpha1.GroupVersion.String(),
		APIResources: []metav1.APIResource{{Name: v1alpha1.Resource.Resource, Kind: v1alpha1.Kind}}}}
}

// GatedDiscovery serves the VIPPool resource (from the fake's Resources: ServeCRD) only
// while Installed is set; otherwise it answers 404, as for a CRD not installed. While Down
// is set it fails as an unreachable API server does.
type GatedDiscovery struct {
	*fakediscovery.FakeDiscovery
	Installed, Down atomic.Bool
}

// ServerResourcesForGroupVersion fails while Down, answers 404 until Installed.
func (g *GatedDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if g.Down.Load() {
		return nil, errors.New("dial tcp 203.0.113.1:6443: connect: connection refused")
	}
	if !g.Installed.Load() {
		return nil, apierrors.NewNotFound(schema.GroupResource{}, gv)
	}
	return g.FakeDiscovery.ServerResourcesForGroupVersion(gv)
}
