package svcrules

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// show renders a block as "lo-hi first-last" for comparison.
func show(b Block) string {
	return fmt.Sprintf("%s-%s %s-%s", b.Lo, b.Hi, b.First, b.Last)
}

func TestParseBlock_AcceptsCIDRsRangesAndSingleAddresses(t *testing.T) {
	for _, tc := range []struct{ name, entry, want string }{
		{"an IPv4 /28 hands out all but network and broadcast", "198.51.100.0/28", "198.51.100.0-198.51.100.15 198.51.100.1-198.51.100.14"},
		{"an IPv4 /30 keeps two addresses", "198.51.100.4/30", "198.51.100.4-198.51.100.7 198.51.100.5-198.51.100.6"},
		{"an IPv4 /31 hands out both", "198.51.100.4/31", "198.51.100.4-198.51.100.5 198.51.100.4-198.51.100.5"},
		{"an IPv4 /32 is one address", "198.51.100.4/32", "198.51.100.4-198.51.100.4 198.51.100.4-198.51.100.4"},
		{"an IPv6 /120 skips the subnet-router anycast address", "2001:db8::/120", "2001:db8::-2001:db8::ff 2001:db8::1-2001:db8::ff"},
		{"an IPv6 /127 hands out both", "2001:db8::/127", "2001:db8::-2001:db8::1 2001:db8::-2001:db8::1"},
		{"a range is taken as written", " 198.51.100.10 - 198.51.100.20 ", "198.51.100.10-198.51.100.20 198.51.100.10-198.51.100.20"},
		{"an IPv6 range", "2001:db8::10-2001:db8::1:0", "2001:db8::10-2001:db8::1:0 2001:db8::10-2001:db8::1:0"},
		{"a single address", "203.0.113.7", "203.0.113.7-203.0.113.7 203.0.113.7-203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBlock(tc.entry)
			if err != nil {
				t.Fatalf("ParseBlock(%q): %v", tc.entry, err)
			}
			if diff := cmp.Diff(tc.want, show(b)); diff != "" {
				t.Errorf("ParseBlock(%q) (-want +got):\n%s", tc.entry, diff)
			}
		})
	}
}

func TestParseBlock_RefusesBadEntriesWithAReason(t *testing.T) {
	for _, tc := range []struct{ name, entry, want string }{
		{"empty", "  ", "empty entry"},
		{"a CIDR with host bits", "198.51.100.5/28", "host bits are set; did you mean 198.51.100.0/28?"},
		{"a bad CIDR", "198.51.100.0/33", `not a CIDR: netip.ParsePrefix("198.51.100.0/33"): prefix length out of range`},
		{"a range that starts after it ends", "198.51.100.20-198.51.100.10", "the range starts after it ends"},
		{"a range of mixed families", "198.51.100.1-2001:db8::1", "the range mixes IPv4 and IPv6"},
		{"three parts", "198.51.100.1-198.51.100.2-198.51.100.3", "a range is two addresses joined by one '-'"},
		{"garbage", "pool-a", `not an IP address: ParseAddr("pool"): unable to parse IP`},
		{"a zone", "fe80::1%eth0", "addresses with a zone are not allowed"},
		{"IPv4-mapped", "::ffff:198.51.100.1", "IPv4-mapped IPv6 addresses are not allowed; write the IPv4 form"},
		{"loopback", "127.0.0.0/30", "contains addresses of 127.0.0.0/8, which are not unicast VIPs"},
		{"a range across loopback", "126.255.255.250-128.0.0.1", "contains addresses of 127.0.0.0/8, which are not unicast VIPs"},
		{"link-local IPv6", "fe80::/64", "contains addresses of fe80::/10, which are not unicast VIPs"},
		{"multicast", "224.0.0.1", "contains addresses of 224.0.0.0/4, which are not unicast VIPs"},
		{"everything", "0.0.0.0/0", "contains addresses of 0.0.0.0/32, which are not unicast VIPs"},
		{"a v6 range across mapped space", "::fffe:0:0-::1:0:0:0", "contains addresses of ::ffff:0.0.0.0/96, which are not unicast VIPs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBlock(tc.entry)
			if err == nil {
				t.Fatalf("ParseBlock(%q) = %s, want error %q", tc.entry, show(b), tc.want)
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("ParseBlock(%q) error (-want +got):\n%s", tc.entry, diff)
			}
		})
	}
}
