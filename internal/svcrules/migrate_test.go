package svcrules

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	st "github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

// Issue 13 section 2: Services carrying each annotation get their VIP (the precedence
// is in TestRequestOf_TheFirstPresentSourceWins).
func TestResolve_AServiceWithAMetalLBAnnotationGetsItsVIPAndOthersKeepTheirs(t *testing.T) {
	svcs := []*corev1.Service{
		st.Svc("metallb", st.Ann(AnnotationMetalLBIPs, "198.51.100.1"), st.Age(0)),
		st.Svc("legacy", st.Ann(AnnotationMetalLBLegacyIPs, "198.51.100.2"), st.Age(1)),
		st.Svc("kubevip", st.Ann(AnnotationKubeVIPIPs, "198.51.100.3"), st.Age(2)),
		st.Svc("ours", st.IPs("198.51.100.4"), st.Age(3)),
	}
	vips, problems := Resolve(Input{Services: svcs, Nodes: []*corev1.Node{st.Node("a")}})
	want := map[string]string{"198.51.100.1": "ns/metallb", "198.51.100.2": "ns/legacy", "198.51.100.3": "ns/kubevip", "198.51.100.4": "ns/ours"}
	if len(vips) != len(want) || len(problems) != 0 {
		t.Fatalf("vips %v, problems %v; want %v", vips, problems, want)
	}
	for ip, svc := range want {
		if v := vips[st.IP(ip)]; len(v.Services) != 1 || v.Services[0].String() != svc {
			t.Errorf("%s: Services %v, want %s", ip, v.Services, svc)
		}
	}
}

func TestSharingKey_MetalLBAllowSharedIPSharesLikeOurKey(t *testing.T) {
	a := st.Svc("a", st.IPs("198.51.100.7"), st.Ann(AnnotationMetalLBSharing, "web"), st.Ports("TCP/80"), st.Age(0))
	b := st.Svc("b", st.IPs("198.51.100.7"), st.Ann(AnnotationMetalLBLegacySharing, "web"), st.Ports("TCP/443"), st.Age(1))
	c := st.Svc("c", st.IPs("198.51.100.7"), st.Key("web"), st.Ports("UDP/53"), st.Age(2))
	d := st.Svc("d", st.IPs("198.51.100.7"), st.Key("other"), st.Ann(AnnotationMetalLBSharing, "web"), st.Ports("TCP/8080"), st.Age(3))
	vips, problems := Resolve(Input{Services: []*corev1.Service{a, b, c, d}, Nodes: []*corev1.Node{st.Node("n")}})
	if got := vips[st.IP("198.51.100.7")].Services; !slices.Equal(got, st.NNs("a", "b", "c")) {
		t.Errorf("sharing Services = %v, want a, b, c", got)
	}
	if len(problems) != 1 || problems[0].Service != st.NN("d") || problems[0].Reason != ReasonIPInUse {
		t.Errorf("problems = %v, want d refused: its own key %q wins over MetalLB's", problems, "other")
	}
	if SharingKey(b) != "web" || SharingKey(d) != "other" || SharingKey(st.Svc("x", st.Ann(AnnotationMetalLBSharing, "  "))) != "" {
		t.Error("SharingKey reads the wrong annotation")
	}
}

func TestPoolOf_FirstPresentAnnotationWins(t *testing.T) {
	tests := []struct {
		name     string
		opts     []st.SvcOpt
		pool, by string
	}{
		{"none", nil, "", ""},
		{"ours", []st.SvcOpt{st.Ann(AnnotationPool, "lan"), st.Ann(AnnotationMetalLBPool, "x")}, "lan", AnnotationPool},
		{"metallb.io over the legacy prefix", []st.SvcOpt{st.Ann(AnnotationMetalLBLegacyPool, "y"), st.Ann(AnnotationMetalLBPool, "x")}, "x", AnnotationMetalLBPool},
		{"metallb.universe.tf", []st.SvcOpt{st.Ann(AnnotationMetalLBLegacyPool, " y ")}, "y", AnnotationMetalLBLegacyPool},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if pool, by := PoolOf(st.Svc("web", tc.opts...)); pool != tc.pool || by != tc.by {
				t.Errorf("PoolOf = %q from %q, want %q from %q", pool, by, tc.pool, tc.by)
			}
		})
	}
}

func TestAdoptableIPs_OnlyForServicesThatAskForNothing(t *testing.T) {
	if got := AdoptableIPs(st.Svc("moved", st.Ingress("198.51.100.7", "198.51.100.7", "2001:db8::7", "nope", "127.0.0.1"))); !slices.Equal(got, []netip.Addr{st.IP("198.51.100.7"), st.IP("2001:db8::7")}) {
		t.Errorf("AdoptableIPs = %v, want the usable IPs once each", got)
	}
	for _, opt := range []st.SvcOpt{st.IPs("198.51.100.8"), st.Ann(AnnotationMetalLBIPs, "198.51.100.8"), st.Allocated("198.51.100.8"), st.LBIP("198.51.100.8")} {
		if got := AdoptableIPs(st.Svc("asks", opt, st.Ingress("198.51.100.7"))); got != nil {
			t.Errorf("a Service that asks for IPs adopts %v", got)
		}
	}
}
