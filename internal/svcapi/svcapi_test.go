package svcapi

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
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
