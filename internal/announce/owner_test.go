package announce

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"golang.org/x/sys/unix"
)

func TestLifetime_RoundsDownAndRefusesLessThanOneSecond(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		left   time.Duration
		want   uint32
		wantOK bool
	}{
		{name: "ten seconds", left: 10 * time.Second, want: 10, wantOK: true},
		{name: "just under ten", left: 10*time.Second - time.Nanosecond, want: 9, wantOK: true},
		{name: "exactly one", left: time.Second, want: 1, wantOK: true},
		{name: "just under one", left: 999 * time.Millisecond},
		{name: "past", left: -time.Second},
		{name: "centuries stay finite", left: 200 * 365 * 24 * time.Hour, want: forever - 1, wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := lifetime(now.Add(tc.left), now)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("lifetime(now+%v) = %d, %v; want %d, %v", tc.left, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestOwns_OnlyMarkedHostAddresses(t *testing.T) {
	const v4, v6 = unix.IFA_F_NOPREFIXROUTE, unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
	withProto := newMarker(0x56, "6.1.0")
	oldKernel := newMarker(0x56, "5.15.0-91-generic")
	m := oldKernel.metric
	for _, tc := range []struct {
		name string
		m    marker
		a    kaddr
		want bool
	}{
		{name: "marked /32", m: withProto, a: ka("198.51.100.7/32", 0x56, 0, "", 0, 10), want: true},
		{name: "marked /128", m: withProto, a: ka("2001:db8::7/128", 0x56, 0, "", v6, 10), want: true},
		{name: "marked but not a host address", m: withProto, a: ka("198.51.100.0/24", 0x56, m, "", v4, 10)},
		{name: "other protocol", m: withProto, a: ka("198.51.100.7/32", 0x57, m, "eth0:vk", v4, 10)},
		{name: "unmarked /32 with our metric and label on a new kernel", m: withProto, a: ka("198.51.100.7/32", 0, m, "eth0:vk", v4, 10)},
		{name: "old kernel: /32 with our metric", m: oldKernel, a: ka("198.51.100.7/32", 0, m, "", v4, 10), want: true},
		{name: "old kernel: /128 with our metric", m: oldKernel, a: ka("2001:db8::7/128", 0, m, "", v6, 10), want: true},
		{name: "old kernel: our metric, permanent", m: oldKernel, a: ka("198.51.100.7/32", 0, m, "", v4, forever)},
		{name: "old kernel: our metric, prefix route", m: oldKernel, a: ka("198.51.100.7/32", 0, m, "", 0, 10)},
		{name: "old kernel: /128 with our metric and DAD", m: oldKernel, a: ka("2001:db8::7/128", 0, m, "", v4, 10)},
		{name: "old kernel: another metric", m: oldKernel, a: ka("198.51.100.7/32", 0, m+1, "", v4, 10)},
		{name: "old kernel: vip-shaped /128 without metric", m: oldKernel, a: ka("2001:db8::7/128", 0, 0, "", v6, 10)},
		{name: "old kernel: labelled /32 of an earlier vipkeeper", m: oldKernel, a: ka("198.51.100.7/32", 0, 0, "eth0:vk", 0, 10), want: true},
		{name: "old kernel: labelled but permanent", m: oldKernel, a: ka("198.51.100.7/32", 0, 0, "eth0:vk", 0, forever)},
		{name: "old kernel: bare suffix is no label", m: oldKernel, a: ka("198.51.100.7/32", 0, 0, ":vk", 0, 10)},
		{name: "old kernel: dhcpv6 /128", m: oldKernel, a: ka("2001:db8::7/128", 0, 0, "", 0, 3600)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.owns(tc.a); got != tc.want {
				t.Errorf("owns(%+v) = %v, want %v", tc.a, got, tc.want)
			}
		})
	}
}

func ka(prefix string, proto uint8, metric uint32, label string, flags, valid uint32) kaddr {
	return kaddr{index: 2, prefix: netip.MustParsePrefix(prefix), proto: proto, metric: metric,
		label: label, flags: flags, valid: valid}
}

func TestLabel_FitsFifteenCharactersOrIsLeftOut(t *testing.T) {
	m := marker{}
	if got := m.label("eth0"); got != "eth0:vk" {
		t.Errorf("label(eth0) = %q, want eth0:vk", got)
	}
	if got := m.label("enp129s0f1np1"); got != "" {
		t.Errorf("label(13 chars) = %q, want none", got)
	}
}

func TestCoveringLink_PicksTheMostSpecificConnectedNetwork(t *testing.T) {
	addrs := []kaddr{
		{index: 1, prefix: netip.MustParsePrefix("127.0.0.1/8")},
		{index: 2, prefix: netip.MustParsePrefix("198.51.100.2/24")},
		{index: 3, prefix: netip.MustParsePrefix("198.51.100.130/25")},
		{index: 4, prefix: netip.MustParsePrefix("198.51.100.200/25")},
		{index: 5, prefix: netip.MustParsePrefix("203.0.113.7/32")},
		{index: 2, prefix: netip.MustParsePrefix("2001:db8::2/64")},
	}
	for _, tc := range []struct {
		name   string
		ip     string
		want   int
		wantOK bool
	}{
		{name: "only the /24 covers", ip: "198.51.100.7", want: 2, wantOK: true},
		{name: "the /25 beats the /24, lowest index breaks the tie", ip: "198.51.100.140", want: 3, wantOK: true},
		{name: "ipv6", ip: "2001:db8::7", want: 2, wantOK: true},
		{name: "a host address covers nothing", ip: "203.0.113.7"},
		{name: "nothing covers it", ip: "203.0.113.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := coveringLink(netip.MustParseAddr(tc.ip), addrs, func(int) bool { return true })
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("coveringLink(%s) = %d, %v; want %d, %v", tc.ip, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestNoInterfaceError_SaysWhatToDo(t *testing.T) {
	err := error(noInterfaceError{ip: netip.MustParseAddr("198.51.100.7")})
	want := "no interface has a connected route covering 198.51.100.7; set --interface"
	if err.Error() != want || !errors.Is(err, ErrNoInterface) {
		t.Errorf("got %q (Is ErrNoInterface: %v), want %q", err, errors.Is(err, ErrNoInterface), want)
	}
}

func TestAtLeast_ComparesMajorAndMinor(t *testing.T) {
	for release, want := range map[string]bool{
		"6.18.44-fc-v657": true, "6.1.0-28-amd64": true, "6.1-rc3": true, "7.0.0": true,
		"6.0.19": false, "5.15.0-91-generic": false, "4.19": false, "garbage": false, "": false,
	} {
		if got := atLeast(release, 6, 1); got != want {
			t.Errorf("atLeast(%q, 6, 1) = %v, want %v", release, got, want)
		}
	}
	for release, want := range map[string]bool{"4.18.0-553.el8_10.x86_64": true, "4.17.19": false, "5.10.0-30-amd64": true} {
		if got := atLeast(release, 4, 18); got != want {
			t.Errorf("atLeast(%q, 4, 18) = %v, want %v", release, got, want)
		}
	}
}

func TestVipAddr_AcceptsOnlyGlobalUnicast(t *testing.T) {
	for ip, wantErr := range map[string]bool{
		"198.51.100.7": false, "2001:db8::7": false, "::ffff:198.51.100.7": false,
		"127.0.0.1": true, "fe80::1": true, "ff02::1": true, "0.0.0.0": true, "224.0.0.1": true,
	} {
		_, err := vipAddr(netip.MustParseAddr(ip))
		if (err != nil) != wantErr || (err != nil && !errors.Is(err, ErrInvalidVIP)) {
			t.Errorf("vipAddr(%s) = %v, want error %v", ip, err, wantErr)
		}
	}
}

func TestValidate_RejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "zero value", cfg: Config{}},
		{name: "interface name too long", cfg: Config{Interface: "a-very-long-name"}, wantErr: true},
		{name: "negative burst", cfg: Config{BurstCount: -1}, wantErr: true},
		{name: "burst interval too short", cfg: Config{BurstInterval: time.Millisecond}, wantErr: true},
		{name: "refresh shorter than burst", cfg: Config{BurstInterval: time.Second, RefreshInterval: 500 * time.Millisecond}, wantErr: true},
		{name: "kernel protocol", cfg: Config{Protocol: 2}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestGarpFrame_IsBroadcastWithVIPAsSenderAndTarget(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	vip := netip.MustParseAddr("198.51.100.7")
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		b, err := garpFrame(op, hw, vip)
		if err != nil {
			t.Fatalf("garpFrame(%v): %v", op, err)
		}
		var f ethernet.Frame
		var p arp.Packet
		if err := f.UnmarshalBinary(b); err != nil {
			t.Fatalf("frame: %v", err)
		}
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatalf("arp: %v", err)
		}
		got := []string{f.Destination.String(), f.Source.String(), f.EtherType.String(),
			p.Operation.String(), p.SenderHardwareAddr.String(), p.SenderIP.String(), p.TargetIP.String()}
		want := []string{"ff:ff:ff:ff:ff:ff", hw.String(), ethernet.EtherTypeARP.String(),
			op.String(), hw.String(), "198.51.100.7", "198.51.100.7"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v frame (-want +got):\n%s", op, diff)
		}
	}
	if _, err := garpFrame(arp.OperationRequest, net.HardwareAddr{1, 2}, vip); err == nil {
		t.Error("garpFrame with a 2-byte MAC = nil error, want one")
	}
}
