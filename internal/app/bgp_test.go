package app

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/bgp"
	"github.com/vipkeeper/vipkeeper/internal/controller"
)

// fakeL2 records what reaches the ARP/NDP plane.
type fakeL2 struct {
	mu    sync.Mutex
	added []netip.Addr
}

func (f *fakeL2) Add(_ context.Context, a announce.Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, a.IP)
	return nil
}
func (f *fakeL2) Remove(context.Context, netip.Addr) error      { return nil }
func (f *fakeL2) Set(context.Context, []announce.Address) error { return nil }

type recordWants struct {
	got map[netip.Addr]controller.Want
}

func (r *recordWants) Want(w map[netip.Addr]controller.Want) { r.got = w }

// testRouting runs a speaker with an ECMP pool (.64/28), a single-mode pool (.80/28) and
// one IPv4 peer (never reached: paths are originated without a session).
func testRouting(t *testing.T) (*routing, *fakeL2) {
	sp, err := bgp.New(bgp.Config{RouterID: netip.MustParseAddr("198.51.100.11"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = sp.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	pool := func(name, a string) *v1alpha1.VIPPool {
		return &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.VIPPoolSpec{Addresses: []string{a}}}
	}
	ad := func(name, mode, pool string) *v1alpha1.BGPAdvertisement {
		return &v1alpha1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.BGPAdvertisementSpec{Pools: []string{pool}, Mode: mode}}
	}
	plan := bgp.Resolve(bgp.Input{Node: "n1", Timing: bgp.Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second},
		Pools: []*v1alpha1.VIPPool{pool("spread", "198.51.100.64/28"), pool("one", "198.51.100.80/28")},
		Ads:   []*v1alpha1.BGPAdvertisement{ad("e", v1alpha1.ModeECMP, "spread"), ad("s", v1alpha1.ModeSingle, "one")},
		Peers: []*v1alpha1.BGPPeer{{ObjectMeta: metav1.ObjectMeta{Name: "r"}, Spec: v1alpha1.BGPPeerSpec{Address: "198.51.100.1", ASN: 64512, MyASN: 64600}}}})
	if err := sp.SetPlan(t.Context(), plan); err != nil {
		t.Fatal(err)
	}
	l2 := &fakeL2{}
	return &routing{l2: l2, speaker: sp, log: slog.New(slog.DiscardHandler)}, l2
}

func TestRouting_EachVIPGoesToThePlaneOfItsPoolsMode(t *testing.T) {
	r, l2 := testRouting(t)
	single, ecmp, plain := netip.MustParseAddr("198.51.100.81"), netip.MustParseAddr("198.51.100.65"), netip.MustParseAddr("198.51.100.200")
	until := time.Now().Add(time.Minute)
	for _, ip := range []netip.Addr{single, plain} {
		if err := r.Plane().Add(t.Context(), announce.Address{IP: ip, Until: until}); err != nil {
			t.Fatalf("Add(%s): %v", ip, err)
		}
	}
	if err := r.Plane().Add(t.Context(), announce.Address{IP: ecmp, Until: until}); err == nil {
		t.Error("Add of an ECMP-mode VIP through the election = nil, want an error")
	}
	if got := announced(r, 1); !slices.Equal(got, []netip.Addr{single}) {
		t.Errorf("BGP announces %v, want only the single-mode VIP %s", got, single)
	}
	if !slices.Equal(l2.added, []netip.Addr{plain}) {
		t.Errorf("L2 got %v, want only %s (no pool with an advertisement)", l2.added, plain)
	}
	if err := r.Plane().Remove(t.Context(), single); err != nil || len(r.speaker.Announced()) != 0 {
		t.Errorf("Remove: %v, still announced %v", err, r.speaker.Announced())
	}
}

func TestRouting_ECMPVIPsSkipTheElectionAndFollowCandidacy(t *testing.T) {
	r, _ := testRouting(t)
	e1, e2 := netip.MustParseAddr("198.51.100.65"), netip.MustParseAddr("198.51.100.66")
	single, plain := netip.MustParseAddr("198.51.100.81"), netip.MustParseAddr("198.51.100.200")
	next := &recordWants{}
	r.Elections(next).Want(map[netip.Addr]controller.Want{
		e1: {IP: e1, Eligible: true}, e2: {IP: e2, Eligible: false},
		single: {IP: single, Eligible: true}, plain: {IP: plain, Eligible: true}})
	if got := announced(r, 1); !slices.Equal(got, []netip.Addr{e1}) {
		t.Errorf("ECMP routes %v, want the eligible ECMP VIP %s only", got, e1)
	}
	if _, ok := next.got[e1]; ok || len(next.got) != 2 {
		t.Errorf("the daemon got %v; want the single-mode and the L2 VIP, no ECMP VIP", next.got)
	}
	r.Elections(next).Want(map[netip.Addr]controller.Want{e1: {IP: e1, Eligible: false}})
	if got := r.speaker.Announced(); len(got) != 0 {
		t.Errorf("after losing candidacy: ECMP routes %v, want none", got)
	}
}

// announced waits (up to 5 s: the speaker may still be starting) for n routes.
func announced(r *routing, n int) []netip.Addr {
	deadline := time.Now().Add(5 * time.Second)
	for len(r.speaker.Announced()) != n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return r.speaker.Announced()
}

func TestRouting_NilRoutingIsL2Only(t *testing.T) {
	var r *routing
	next := &recordWants{}
	if r.Elections(next) != next || r.Plane() != nil || !r.Synced() || r.RunSpeaker(t.Context()) != nil {
		t.Error("a nil routing must hand everything to L2 unchanged")
	}
}
