package pool

import (
	"fmt"
	"math/big"
	"net/netip"
	"testing"
)

func TestBlockSize_CountsWhatTheBlockHandsOut(t *testing.T) {
	for _, tc := range []struct {
		name, entry string
		avoid       bool
		want        string
	}{
		{"a /28", "198.51.100.0/28", false, "14"},
		{"a /24 without .0 and .255", "198.51.100.0/24", true, "254"},
		{"a range over a .255/.0 boundary avoiding buggy IPs", "198.51.100.250-198.51.102.5", true, "264"},
		{"the same range taking all", "198.51.100.250-198.51.102.5", false, "268"},
		{"an IPv6 /64", "2001:db8::/64", false, "18446744073709551615"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := parseBlock(tc.entry)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.size(tc.avoid).String(); got != tc.want {
				t.Errorf("size(%q, avoid=%v) = %s, want %s", tc.entry, tc.avoid, got, tc.want)
			}
			if n := bruteSize(b, tc.avoid); n >= 0 && fmt.Sprint(n) != tc.want {
				t.Errorf("brute-force count of %q = %d, want %s", tc.entry, n, tc.want)
			}
		})
	}
}

// bruteSize counts by walking small blocks; -1 for big ones.
func bruteSize(b block, avoid bool) int {
	if new(big.Int).Sub(toInt(b.Hi), toInt(b.Lo)).Cmp(big.NewInt(1<<16)) > 0 {
		return -1
	}
	n := 0
	for a := b.Lo; a.IsValid() && a.Compare(b.Hi) <= 0; a = a.Next() {
		if b.allocatable(a, avoid) {
			n++
		}
	}
	return n
}

func TestLowestFree_SkipsUsedAndBuggyAddresses(t *testing.T) {
	b, err := parseBlock("198.51.100.253-198.51.101.3")
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr]bool{netip.MustParseAddr("198.51.100.253"): true, netip.MustParseAddr("198.51.100.254"): true}
	got, ok := b.lowestFree(used, true)
	if want := netip.MustParseAddr("198.51.101.1"); !ok || got != want {
		t.Errorf("lowestFree = %v, %v; want %v", got, ok, want)
	}
	full, _ := parseBlock("198.51.100.253/32")
	if got, ok := full.lowestFree(used, false); ok {
		t.Errorf("lowestFree of a used single address = %v, want none", got)
	}
}

func TestSaturate_CapsHugeCounts(t *testing.T) {
	huge, _ := new(big.Int).SetString("340282366920938463463374607431768211455", 10)
	for _, tc := range []struct {
		in   *big.Int
		want int64
	}{{big.NewInt(-3), 0}, {big.NewInt(42), 42}, {huge, 9223372036854775807}} {
		if got := saturate(tc.in); got != tc.want {
			t.Errorf("saturate(%s) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
