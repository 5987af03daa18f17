package pool

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// The test control plane is dual-stack for Services (testenv.DefaultServiceCIDR, IPv4
// first), so the API server accepts RequireDualStack and fills in ipFamilies itself.

var (
	requireDual = families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
	onlyIPv6    = families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)
)

// allocatedInTurn creates the Services one by one, each once the one before has its
// allocation: Services created in the same second are ordered by name, not by creation.
func (h *harness) allocatedInTurn(steps []dualStep) {
	h.t.Helper()
	for _, st := range steps {
		got := h.service(st.name, st.opts...)
		if st.families != nil {
			if diff := cmp.Diff(st.families, got.Spec.IPFamilies); diff != "" {
				h.t.Fatalf("API server gave Service %s ipFamilies (-want +got):\n%s", st.name, diff)
			}
		}
		h.eventually(st.name+" gets "+st.want, h.annotation(st.name, st.want))
	}
}

type dualStep struct {
	name     string
	opts     []svcOpt
	families []corev1.IPFamily // as the API server fills them in; nil: not checked
	want     string            // allocated-ips
}

func TestAllocator_DualStackServicesGetTheFamiliesTheirPolicyAsksForUntilIPv6RunsOut(t *testing.T) {
	h := newHarness(t)
	name := h.pool("p", "198.51.100.248/29", "2001:db8:2::/126") // .249-.254 and ::1-::3
	h.start(1)
	h.allocatedInTurn([]dualStep{{
		name: "req", opts: []svcOpt{requireDual}, want: "198.51.100.249,2001:db8:2::1",
	}, {
		name: "prefer", opts: []svcOpt{families(corev1.IPFamilyPolicyPreferDualStack)},
		families: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, want: "198.51.100.250,2001:db8:2::2",
	}, {
		name: "v6", opts: []svcOpt{onlyIPv6}, families: []corev1.IPFamily{corev1.IPv6Protocol}, want: "2001:db8:2::3",
	}})
	h.service("req-late", requireDual)
	h.eventually("req-late is refused with an Event", func(context.Context) error {
		return h.rec.has("Service "+h.ns+"/req-late", "Warning", ReasonAllocationFailed,
			"RequireDualStack needs an address of each family; no free IPv6 address in VIPPool "+name)
	})
	// 6 IPv4 + 3 IPv6 addresses, 5 in use: req-late holds no IPv4 address on the side.
	h.eventually("pool counts 5 used, 4 free", func(ctx context.Context) error { return h.poolCounts(ctx, name, 5, 4) })
	if err := h.annotation("req-late", "")(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestAllocator_RequireDualStackGetsNothingFromAnIPv4OnlyPool(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "198.51.100.136/29") // .137-.142
	h.start(1)
	h.service("req", requireDual)
	h.eventually("req is refused with an Event", func(context.Context) error {
		return h.rec.has("Service "+h.ns+"/req", "Warning", ReasonAllocationFailed,
			"RequireDualStack needs an address of each family; no Ready VIPPool offers IPv6 addresses to this Service")
	})
	h.service("v4")
	h.eventually("v4 gets the pool's first address, which req did not take", h.annotation("v4", "198.51.100.137"))
	if err := h.annotation("req", "")(t.Context()); err != nil {
		t.Error(err)
	}
}
