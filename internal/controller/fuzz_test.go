package controller

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// FuzzCompute feeds arbitrary annotations, keys, ports and endpoints of three Services on
// three nodes and checks that Compute never panics and keeps its invariants.
func FuzzCompute(f *testing.F) {
	f.Add("198.51.100.7", "198.51.100.7,2001:db8::7", "198.51.100.7", "k", "k", uint16(80), uint16(80), byte(0))
	f.Add("x", "", "::", "", "k", uint16(0), uint16(65535), byte(255))
	f.Fuzz(func(t *testing.T, a1, a2, a3, k1, k2 string, p1, p2 uint16, bits byte) {
		svcs := []*corev1.Service{
			svc("s1", ips(a1), key(k1), ports("TCP/"+strconv.Itoa(int(p1))), age(int(bits%3))),
			svc("s2", lbIP(a2), key(k2), ports("UDP/"+strconv.Itoa(int(p2))), age(int(bits>>2%3))),
			svc("s3", allocated(a3), key(k1), ports("TCP/"+strconv.Itoa(int(p2)))),
		}
		if bits&1 != 0 {
			svcs[1].Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
		if bits&2 != 0 {
			svcs[2].Spec.LoadBalancerClass = nil
		}
		states := []string{"ready", "serving", "draining", "gone", "nil"}
		eps := []discoveryv1.Endpoint{ep("a", states[int(bits)%5]), ep("b", states[int(bits>>3)%5])}
		in := Input{Services: svcs, Nodes: []*corev1.Node{node("a", addr(a3)), node("b", excluded()), node("c")},
			EndpointSlices: []*discoveryv1.EndpointSlice{slice("s2", eps...)}, NodeName: "a", Class: Class{Default: bits&4 != 0}}
		checkInvariants(t, in)
	})
}

// checkInvariants: Compute is deterministic, every Want is well formed, every problem is
// complete, and a Service refused an IP is not among that IP's Services.
func checkInvariants(t *testing.T, in Input) {
	t.Helper()
	got, problems := Compute(in)
	again, problems2 := Compute(in)
	if !wantsEqual(got, again) || !slices.Equal(problems, problems2) {
		t.Fatalf("Compute is not deterministic")
	}
	for vip, w := range got {
		if w.IP != vip || len(w.Services) == 0 || !slices.IsSortedFunc(w.Services, svcrules.CompareNames) {
			t.Fatalf("bad Want %+v", w)
		}
		if (!w.Eligible && w.Rank != 0) || w.Rank < 0 || w.Rank >= len(in.Nodes) {
			t.Fatalf("bad rank in %+v", w)
		}
	}
	for _, p := range problems {
		if p.Reason == "" || p.Message == "" || p.Service.Name == "" {
			t.Fatalf("incomplete problem %+v", p)
		}
		if p.Reason != ReasonIPInUse && p.Reason != ReasonUnsafeSharing {
			continue
		}
		vip, _, _ := strings.Cut(p.Message, " ")
		if w, ok := got[netip.MustParseAddr(vip)]; !ok || slices.Contains(w.Services, p.Service) {
			t.Fatalf("refused %s still uses %s, or the owner lost it: %+v", p.Service, vip, w)
		}
	}
}
