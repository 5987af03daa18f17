package lease

import (
	"net/netip"
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
