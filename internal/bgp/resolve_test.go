package bgp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

func peerSpec(name, addr string, hold time.Duration) *v1alpha1.BGPPeer {
	return &v1alpha1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.BGPPeerSpec{
		Address: addr, ASN: 64512, MyASN: 64600, HoldTime: metav1.Duration{Duration: hold}}}
}

func TestResolve_EachBadObjectIsRefusedAloneWithAReason(t *testing.T) {
	in := baseInput()
	in.Peers = []*v1alpha1.BGPPeer{peerSpec("v4", "198.51.100.1", 3*time.Second),
		peerSpec("v6", "2001:db8:1::1", 3*time.Second), peerSpec("slow", "198.51.100.2", 90*time.Second),
		peerSpec("bad-address", "198.51.100.300", 3*time.Second), peerSpec("zz-same-address", "198.51.100.1", 3*time.Second)}
	secretPeer := peerSpec("secret", "198.51.100.3", 3*time.Second)
	secretPeer.Spec.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: "missing"}
	in.Peers = append(in.Peers, secretPeer)
	in.Secret = func(string, string) (string, error) { return "", errors.New("not found") }
	mk := func(name, mode string, peers []string, pools ...string) *v1alpha1.BGPAdvertisement {
		return &v1alpha1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name,
			CreationTimestamp: metav1.NewTime(time.Unix(2e9, 0))},
			Spec: v1alpha1.BGPAdvertisementSpec{Pools: pools, Mode: mode, Peers: peers}}
	}
	in.Ads[1].Spec.Peers = []string{"v4", "v6"}
	in.Ads = append(in.Ads,
		mk("no-pool", v1alpha1.ModeECMP, nil, "nope"),
		mk("no-peer", v1alpha1.ModeECMP, []string{"ghost"}, "spread"),
		mk("conflict", v1alpha1.ModeSingle, []string{"v4"}, "spread"),
		mk("slow-single", v1alpha1.ModeSingle, []string{"slow"}, "spread"))
	p := Resolve(in)

	want := map[string]string{"ecmp": ReasonAccepted, "single": ReasonAccepted, "no-pool": ReasonUnknownPool,
		"no-peer": ReasonUnknownPeer, "conflict": ReasonModeConflict, "slow-single": ReasonModeConflict}
	for name, reason := range want {
		if got := p.Accepted[name].Reason; got != reason {
			t.Errorf("advertisement %s: reason %q (%s), want %q", name, got, p.Accepted[name].Message, reason)
		}
	}
	if _, ok := p.PeerProblems["bad-address"]; !ok {
		t.Errorf("bad-address peer not refused: %v", p.PeerProblems)
	}
	if msg := p.PeerProblems["zz-same-address"]; !strings.Contains(msg, `"v4"`) {
		t.Errorf("second peer on one address: problem %q, want one naming the first", msg)
	}
	if msg := p.PeerProblems["secret"]; !strings.Contains(msg, "missing") {
		t.Errorf("peer with a missing Secret: problem %q, want one naming the Secret", msg)
	}
	if mode, ok := p.Mode(netip.MustParseAddr("198.51.100.70")); !ok || mode != v1alpha1.ModeECMP {
		t.Errorf("Mode(ECMP pool) = %q, %v", mode, ok)
	}
	if _, ok := p.Mode(netip.MustParseAddr("198.51.100.200")); ok {
		t.Error("an address in no pool has a BGP mode; want L2")
	}
	if got := p.peersFor(netip.MustParseAddr("2001:db8::1")); len(got) != 0 {
		t.Errorf("peers of an address in no pool = %v", got)
	}
}

func TestResolve_SingleModeRefusesAHoldTimeThatOutlivesTheFence(t *testing.T) {
	in := baseInput() // 15 s / 10 s: hold time at most 4 s
	in.Peers = []*v1alpha1.BGPPeer{peerSpec("slow", "198.51.100.2", 5*time.Second)}
	p := Resolve(in)
	if c := p.Accepted["single"]; c.Reason != ReasonHoldTooLong || !strings.Contains(c.Message, "slow") {
		t.Errorf("single-mode advertisement with a 5s hold time: %+v, want %s", c, ReasonHoldTooLong)
	}
	if c := p.Accepted["ecmp"]; c.Status != metav1.ConditionTrue {
		t.Errorf("ECMP advertisement with the same peer: %+v, want accepted (no election to outlive)", c)
	}
	if mode, ok := p.Mode(netip.MustParseAddr("198.51.100.81")); !ok || mode != v1alpha1.ModeSingle {
		t.Errorf("pool of the refused advertisement: Mode = %q, %v; want single (never a fallback to ARP)", mode, ok)
	}
	if _, ok := p.routeFor(netip.MustParseAddr("198.51.100.81")); ok {
		t.Error("pool of the refused advertisement has a route")
	}
	in.Peers[0].Spec.HoldTime.Duration = 4 * time.Second
	if c := Resolve(in).Accepted["single"]; c.Status != metav1.ConditionTrue {
		t.Errorf("single mode with hold 4s = LD - RD - 1s: %+v, want accepted", c)
	}
}

func TestResolve_NodeSelectorsDecideWhoAnnouncesNeverTheMode(t *testing.T) {
	in := baseInput()
	in.Peers = []*v1alpha1.BGPPeer{peerSpec("v4", "198.51.100.1", 3*time.Second)}
	in.Ads[0].Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "a"}}
	in.NodeLabels = map[string]string{"rack": "b"}
	p := Resolve(in)
	ip := netip.MustParseAddr("198.51.100.70")
	if mode, ok := p.Mode(ip); !ok || mode != v1alpha1.ModeECMP {
		t.Errorf("unselected node: Mode = %q, %v; want ecmp on every node", mode, ok)
	}
	if _, ok := p.routeFor(ip); ok {
		t.Error("unselected node has a route for the VIP")
	}
	in.NodeLabels["rack"] = "a"
	if r, ok := Resolve(in).routeFor(ip); !ok || len(r.tags) != 1 {
		t.Errorf("selected node: route %+v, %v", r, ok)
	}
}

func TestPlan_KeyIsStableForUnchangedInputAndChangesWithIt(t *testing.T) {
	in := baseInput()
	lp := int64(200)
	in.Ads[0].Spec.LocalPref = &lp
	in.Peers = []*v1alpha1.BGPPeer{peerSpec("v4", "198.51.100.1", 3*time.Second)}
	if a, b := Resolve(in).key(), Resolve(in).key(); a != b {
		t.Errorf("two plans of the same input differ:\n%s\n%s", a, b)
	}
	before := Resolve(in).key()
	in.Ads[0].Spec.Communities = []string{"65000:8"}
	if Resolve(in).key() == before {
		t.Error("a changed community leaves the plan key unchanged")
	}
}
