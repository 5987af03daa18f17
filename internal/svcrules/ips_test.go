package svcrules

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseIPs(t *testing.T) {
	got, bad := ParseIPs(" 198.51.100.7,, 2001:DB8::7 ,::ffff:198.51.100.7,198.51.100.7/32,127.0.0.1,fe80::1,ff02::1,0.0.0.0")
	if want := []netip.Addr{ip("198.51.100.7"), ip("2001:db8::7")}; !slices.Equal(got, want) {
		t.Errorf("ips = %v, want %v", got, want)
	}
	if want := []string{"198.51.100.7/32", "127.0.0.1", "fe80::1", "ff02::1", "0.0.0.0"}; !slices.Equal(bad, want) {
		t.Errorf("bad = %q, want %q", bad, want)
	}
}

func FuzzParseIPs(f *testing.F) {
	for _, s := range []string{"", "198.51.100.7", "198.51.100.7, 2001:db8::7", ",,", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4.5", "\xff,\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, bad := ParseIPs(s)
		seen := map[netip.Addr]bool{}
		for _, a := range addrs {
			if !a.IsValid() || a.Zone() != "" || a.Is4In6() || seen[a] {
				t.Fatalf("ParseIPs(%q) returned unusable or duplicate %v", s, a)
			}
			seen[a] = true
			if again, b := ParseIPs(a.String()); len(b) != 0 || len(again) != 1 || again[0] != a {
				t.Fatalf("%v does not round-trip: %v %q", a, again, b)
			}
		}
		if len(addrs)+len(bad) > strings.Count(s, ",")+1 {
			t.Fatalf("ParseIPs(%q) returned more tokens than there are", s)
		}
	})
}

func FuzzRequestOf_BadTokensGiveOneProblem(f *testing.F) {
	for _, s := range []string{"", "198.51.100.7", "198.51.100.7,nope", "\xff,\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, bad := ParseIPs(s)
		svc := svcrulestest.Svc("web", svcrulestest.IPs(s))
		_, problems := Resolve(Input{Services: []*corev1.Service{svc}})
		n := 0
		for _, p := range problems {
			if p.Reason == ReasonInvalidIP {
				n++
			}
		}
		if (len(bad) > 0) != (n == 1) || n > 1 {
			t.Fatalf("bad tokens %q gave %d InvalidIP problems: %v", bad, n, problems)
		}
	})
}

func TestRequestOf_TheFirstPresentSourceWins(t *testing.T) {
	tests := []struct {
		name string
		opts []svcrulestest.SvcOpt
		want Source
		ips  string
	}{
		{"nothing", nil, SourceNone, ""},
		{"annotation over spec and allocation", []svcrulestest.SvcOpt{svcrulestest.IPs("198.51.100.1"), svcrulestest.LBIP("198.51.100.2"), svcrulestest.Allocated("198.51.100.3")}, SourceAnnotation, "198.51.100.1"},
		{"spec over allocation", []svcrulestest.SvcOpt{svcrulestest.LBIP("198.51.100.2"), svcrulestest.Allocated("198.51.100.3")}, SourceLoadBalancerIP, "198.51.100.2"},
		{"allocation last", []svcrulestest.SvcOpt{svcrulestest.IPs("  "), svcrulestest.Allocated("198.51.100.3")}, SourceAllocated, "198.51.100.3"},
		{"a present source with only bad tokens still wins", []svcrulestest.SvcOpt{svcrulestest.IPs("nope"), svcrulestest.Allocated("198.51.100.3")}, SourceAnnotation, ""},
		// Issue 13 section 2: MetalLB's and kube-vip's annotations, right below ours.
		{"metallb.io", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationMetalLBIPs, "198.51.100.1, 2001:db8::1")}, SourceMetalLB, "198.51.100.1,2001:db8::1"},
		{"metallb.universe.tf", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationMetalLBLegacyIPs, "198.51.100.2")}, SourceMetalLBLegacy, "198.51.100.2"},
		{"kube-vip.io", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationKubeVIPIPs, "198.51.100.3")}, SourceKubeVIP, "198.51.100.3"},
		{"ours over every other", []svcrulestest.SvcOpt{svcrulestest.IPs("198.51.100.9"), svcrulestest.Ann(AnnotationMetalLBIPs, "198.51.100.1"),
			svcrulestest.Ann(AnnotationKubeVIPIPs, "198.51.100.3"), svcrulestest.LBIP("198.51.100.4")}, SourceAnnotation, "198.51.100.9"},
		{"metallb.io over metallb.universe.tf", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationMetalLBLegacyIPs, "198.51.100.2"),
			svcrulestest.Ann(AnnotationMetalLBIPs, "198.51.100.1")}, SourceMetalLB, "198.51.100.1"},
		{"metallb over kube-vip", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationKubeVIPIPs, "198.51.100.3"),
			svcrulestest.Ann(AnnotationMetalLBLegacyIPs, "198.51.100.2")}, SourceMetalLBLegacy, "198.51.100.2"},
		{"kube-vip over spec.loadBalancerIP and the allocation", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationKubeVIPIPs, "198.51.100.3"),
			svcrulestest.LBIP("198.51.100.4"), svcrulestest.Allocated("198.51.100.5")}, SourceKubeVIP, "198.51.100.3"},
		{"a blank foreign annotation is absent", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationMetalLBIPs, " "), svcrulestest.LBIP("198.51.100.4")}, SourceLoadBalancerIP, "198.51.100.4"},
		{"a present foreign annotation with bad tokens still wins", []svcrulestest.SvcOpt{svcrulestest.Ann(AnnotationKubeVIPIPs, "nope"), svcrulestest.LBIP("198.51.100.4")}, SourceKubeVIP, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := RequestOf(svcrulestest.Svc("web", tc.opts...))
			var got []string
			for _, ip := range r.IPs {
				got = append(got, ip.String())
			}
			if r.Source != tc.want || strings.Join(got, ",") != tc.ips {
				t.Errorf("RequestOf = %v %v, want %v %s", r.Source, r.IPs, tc.want, tc.ips)
			}
			if r.Source.ByUser() != (tc.want != SourceNone && tc.want != SourceAllocated) {
				t.Errorf("ByUser = %v for %v", r.Source.ByUser(), r.Source)
			}
		})
	}
}
