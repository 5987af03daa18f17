package pool

import (
	"net/netip"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

func TestMembership_PoolOfIsTheOldestPoolHoldingTheAddress(t *testing.T) {
	mk := func(name string, age time.Duration, addrs ...string) *v1alpha1.VIPPool {
		return &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: name,
			CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))},
			Spec: v1alpha1.VIPPoolSpec{Addresses: addrs}}
	}
	m := NewMembership([]*v1alpha1.VIPPool{
		mk("old", time.Hour, "198.51.100.0/28"),
		mk("young", time.Minute, "198.51.100.8/29"), // overlaps old: the older wins
		mk("v6", time.Minute, "2001:db8::/120"),
		mk("bad", time.Minute, "not-an-ip", "203.0.113.0/28"), // its valid entry still counts
	})
	tests := []struct {
		ip   string
		want string
	}{
		{"198.51.100.9", "old"}, {"2001:db8::7", "v6"}, {"203.0.113.1", "bad"}, {"198.51.100.200", ""},
	}
	for _, tc := range tests {
		got, ok := m.PoolOf(netip.MustParseAddr(tc.ip))
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("PoolOf(%s) = %q, %v; want %q", tc.ip, got, ok, tc.want)
		}
	}
}
