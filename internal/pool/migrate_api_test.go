package pool

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// setIngress writes status.loadBalancer.ingress as MetalLB or kube-vip left it.
func (h *harness) setIngress(name, ip string) {
	h.t.Helper()
	h.eventually("set the status of Service "+name, func(ctx context.Context) error {
		s, err := h.cs.CoreV1().Services(h.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		_, err = h.cs.CoreV1().Services(h.ns).UpdateStatus(ctx, s, metav1.UpdateOptions{})
		return err
	})
}

// Issue 13 section 2, against the real kube-apiserver: Services moved from another load
// balancer keep the IPs in their status; of two listing one IP the older (here: by name,
// as all are created within one second) keeps it; a Service without one does not take
// a kept IP.
func TestAllocator_AMigratedServiceKeepsItsIngressIP(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "203.0.113.96/29") // hands out .97 to .102
	h.service("a-moved")
	h.service("b-fresh")
	h.service("c-twin")
	h.setIngress("a-moved", "203.0.113.101")
	h.setIngress("c-twin", "203.0.113.101")
	h.start(1)
	h.eventually("a-moved keeps .101", h.annotation("a-moved", "203.0.113.101"))
	h.eventually("b-fresh gets the lowest free .97", h.annotation("b-fresh", "203.0.113.97"))
	h.eventually("c-twin gets .98", h.annotation("c-twin", "203.0.113.98"))
	if err := h.rec.has("Service "+h.ns+"/a-moved", ReasonIPAllocated, "kept from status.loadBalancer.ingress"); err != nil {
		t.Error(err)
	}
}

// Issue 13 "Also": kube-apiserver itself refuses a VIPPool whose address is not an address
// (the CRD's CEL rules), and bad spec.l2 and priority values (its OpenAPI schema); it
// serves the short name vpool and the category vipkeeper. What
// the schema cannot see (a label selector's operator, a path.Match pattern's syntax) makes
// the pool Invalid at run time instead (svcrules.ParsePool).
func TestVIPPoolValidation_TheAPIServerRefusesBadPools(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		spec v1alpha1.VIPPoolSpec
		want string // "" = accepted
	}{
		{"foo", v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.0/28", "foo"}}, "an entry is a CIDR"},
		{"range-mixed", v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.1-2001:db8::1"}}, "an entry is a CIDR"},
		{"iface-slash", v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.1"}, L2: &v1alpha1.L2Advertisement{Interfaces: []string{"a/b"}}}, "spec.l2.interfaces[0]"},
		{"priority", v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.1"}, Priority: 5000}, "spec.priority"},
		{"good", v1alpha1.VIPPoolSpec{Addresses: []string{"203.0.113.208/28", "203.0.113.230-203.0.113.240", "2001:db8::7"}, Priority: 10,
			L2: &v1alpha1.L2Advertisement{Interfaces: []string{"eth1", "enp*s0f[01]"},
				NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"lan": "b"}}}}}, ""},
	}
	res, err := h.cs.Discovery().ServerResourcesForGroupVersion(v1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Name == v1alpha1.Resource.Resource })
	if i < 0 || !slices.Contains(res.APIResources[i].ShortNames, "vpool") || !slices.Contains(res.APIResources[i].Categories, "vipkeeper") {
		t.Errorf("discovery of %s: %+v; want vippools with short name vpool and category vipkeeper", v1alpha1.GroupVersion, res.APIResources)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := h.createPool(h.ns+"-v-"+tc.name, tc.spec)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("a good VIPPool was refused: %v", err)
			case tc.want != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("create: err %v, want 422 Invalid naming %q", err, tc.want)
			}
		})
	}
}

// createPool creates a VIPPool with spec (admitting only the test's namespace) and
// deletes it when the test ends.
func (h *harness) createPool(name string, spec v1alpha1.VIPPoolSpec) error {
	spec.Namespaces = []string{h.ns}
	vp := &v1alpha1.VIPPool{TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind},
		ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(vp)
	if err != nil {
		return err
	}
	_, err = h.dyn.Resource(v1alpha1.Resource).Create(h.t.Context(), &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	if err == nil {
		h.t.Cleanup(func() {
			_ = h.dyn.Resource(v1alpha1.Resource).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
	}
	return err
}
