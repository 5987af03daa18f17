package lease

import (
	"net/netip"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestName_IsAValidObjectNameDerivedFromTheIP(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"198.51.100.7", "vipkeeper-198-51-100-7"},
		{"2001:db8::7", "vipkeeper-2001-db8--7"},
		{"::ffff:198.51.100.7", "vipkeeper-198-51-100-7"},
		{"fe80::1%eth0", "vipkeeper-fe80--1"},
		{"::1", "vipkeeper---1"},
		{"2001:db8::", "vipkeeper-2001-db8--0"},
	}
	for _, tc := range tests {
		got := Name(netip.MustParseAddr(tc.ip))
		if got != tc.want {
			t.Errorf("Name(%s) = %q, want %q", tc.ip, got, tc.want)
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("Name(%s) = %q is not a valid name: %v", tc.ip, got, errs)
		}
	}
}

func TestNodeName_FitsAndStaysDistinct(t *testing.T) {
	long := strings.Repeat("a", 240) + "." + strings.Repeat("b", 12)
	other := strings.Repeat("a", 240) + "." + strings.Repeat("c", 12)
	for _, tc := range []struct{ node, want string }{
		{"node-1", "vipkeeper-node-node-1"},
		{"worker.example.com", "vipkeeper-node-worker.example.com"},
	} {
		if got := NodeName(tc.node); got != tc.want {
			t.Errorf("NodeName(%q) = %q, want %q", tc.node, got, tc.want)
		}
	}
	a, b := NodeName(long), NodeName(other)
	if len(a) > 253 || a == b {
		t.Errorf("long names: %q (%d) and %q must differ and fit in 253", a, len(a), b)
	}
	if errs := validation.IsDNS1123Subdomain(a); len(errs) > 0 {
		t.Errorf("NodeName(long) = %q is not a DNS subdomain: %v", a, errs)
	}
	cut := strings.Repeat("a", 237) + ".bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	if errs := validation.IsDNS1123Subdomain(NodeName(cut)); len(errs) > 0 {
		t.Errorf("NodeName(cut at a dot) = %q: %v", NodeName(cut), errs)
	}
}
