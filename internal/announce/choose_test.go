package announce

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Address.Interfaces overrides Config.Interface for one VIP (issue 13 section 3).
func TestAdd_AddressInterfacesOverrideTheConfiguredInterface(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{Interface: "eth0"})
	for _, tc := range []struct {
		name    string
		vip     string
		allowed []string
		wantDev string
		is      error
		says    string
	}{
		{name: "zero value: the configured interface", vip: "203.0.113.7", wantDev: "eth0"},
		{name: "one plain name is used as it is", vip: "198.51.100.7", allowed: []string{"eth1"}, wantDev: "eth1"},
		{name: "a pattern picks the matching interface that covers the vip", vip: "203.0.113.8",
			allowed: []string{"eth*"}, wantDev: "eth1"},
		{name: "several names pick the covering one", vip: "198.51.100.8", allowed: []string{"eth1", "eth0"}, wantDev: "eth0"},
		{name: "no allowed interface covers the vip", vip: "198.51.100.9", allowed: []string{"eth1*"},
			is: ErrNoInterface, says: "no interface matching eth1* has a connected route covering 198.51.100.9"},
		{name: "a bad pattern", vip: "198.51.100.9", allowed: []string{"eth["}, is: ErrCannotCarry, says: `"eth["`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := l.with(t)
			ip := addr(tc.vip)
			err := a.Add(t.Context(), Address{IP: ip, Until: time.Now().Add(time.Minute), Interfaces: tc.allowed})
			if cerr := a.CanCarryOn(ip, tc.allowed); (cerr == nil) != (err == nil) {
				t.Errorf("CanCarryOn = %v, but Add = %v", cerr, err)
			}
			if tc.is != nil {
				if !errors.Is(err, tc.is) || !errors.Is(err, ErrCannotCarry) || !strings.Contains(err.Error(), tc.says) {
					t.Errorf("Add = %v, want %v saying %q", err, tc.is, tc.says)
				}
				return
			}
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if got := l.nodeHas(netip.PrefixFrom(ip, 32).String()); got != tc.wantDev {
				t.Errorf("%s on %q, want %s", ip, got, tc.wantDev)
			}
		})
	}
}

func TestAdd_NewInterfacesMoveAHeldVIP(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	vip := addr("198.51.100.7")
	for _, want := range []string{"eth0", "eth1", "eth0"} {
		d := Address{IP: vip, Until: time.Now().Add(time.Minute)}
		if want == "eth1" {
			d.Interfaces = []string{"eth1"}
		}
		if err := a.Add(t.Context(), d); err != nil {
			t.Fatalf("Add for %s: %v", want, err)
		}
		var devs []string
		for _, ka := range l.nodeAddrs() {
			if ka.CIDR == "198.51.100.7/32" {
				devs = append(devs, ka.Dev)
			}
		}
		if len(devs) != 1 || devs[0] != want {
			t.Errorf("VIP on %v, want only %s", devs, want)
		}
	}
}
