package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/announce"
)

// waitLimit bounds every wait in these tests; it is a limit, not a target.
const waitLimit = 20 * time.Second

// testRouter is a GoBGP instance on a loopback address standing in for a router: it
// accepts one neighbour (the speaker's source address) and keeps what it learns.
type testRouter struct {
	addr netip.Addr
	port int
	srv  *server.BgpServer
}

func startRouter(t *testing.T, addr string, asn, peerASN uint32, neighbor, password string) *testRouter {
	t.Helper()
	r := &testRouter{addr: netip.MustParseAddr(addr), port: freePort(t, addr)}
	r.srv = server.NewBgpServer(server.LoggerOption(slog.New(slog.DiscardHandler), &slog.LevelVar{}))
	go r.srv.Serve()
	ctx := t.Context()
	err := r.srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: asn, RouterId: addr,
		ListenPort: int32(r.port), ListenAddresses: []string{addr}}})
	if err != nil {
		t.Fatalf("router %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = r.srv.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	fam := api.Family_AFI_IP
	if strings.Contains(neighbor, ":") {
		fam = api.Family_AFI_IP6
	}
	err = r.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: neighbor, PeerAsn: peerASN, AuthPassword: password},
		Transport: &api.Transport{PassiveMode: true, LocalAddress: addr},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 3, KeepaliveInterval: 1}},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Enabled: true, Family: &api.Family{Afi: fam, Safi: api.Family_SAFI_UNICAST}}}},
	}})
	if err != nil {
		t.Fatalf("router %s: add neighbour: %v", addr, err)
	}
	return r
}

func freePort(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatalf("free port on %s: %v", addr, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// learned is one prefix as the router has it: next hops and communities of each path.
type learned struct {
	nextHops    []string
	communities []string
	large       int
}

func (r *testRouter) lookup(t *testing.T, vip string) learned {
	t.Helper()
	fam := bgp.RF_IPv4_UC
	if strings.Contains(vip, ":") {
		fam = bgp.RF_IPv6_UC
	}
	var out learned
	err := r.srv.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: fam,
		Prefixes: []*apiutil.LookupPrefix{{Prefix: vip}}}, func(_ bgp.NLRI, paths []*apiutil.Path) {
		for _, p := range paths {
			out.nextHops = append(out.nextHops, nextHopOf(p))
			for _, a := range p.Attrs {
				switch a := a.(type) {
				case *bgp.PathAttributeCommunities:
					for _, c := range a.Value {
						out.communities = append(out.communities, fmt.Sprintf("%d:%d", c>>16, c&0xffff))
					}
				case *bgp.PathAttributeLargeCommunities:
					out.large += len(a.Values)
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("router %s: list %s: %v", r.addr, vip, err)
	}
	return out
}

func nextHopOf(p *apiutil.Path) string {
	for _, a := range p.Attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			return a.Value.String()
		case *bgp.PathAttributeMpReachNLRI:
			return a.Nexthop.String()
		}
	}
	return "?"
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSpeaker runs a speaker with plan p until the test ends.
func startSpeaker(t *testing.T, p *Plan) *Speaker {
	t.Helper()
	sp, err := New(Config{RouterID: netip.MustParseAddr("127.0.0.2"), ConnectRetry: time.Second, Logger: testLogger(t),
		BackoffMin: 200 * time.Millisecond, BackoffMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := sp.SetPlan(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return sp
}

func peerObj(name string, r *testRouter, asn int64, secret string) *v1alpha1.BGPPeer {
	p := &v1alpha1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.BGPPeerSpec{
		Address: r.addr.String(), ASN: asn, MyASN: 64600, Port: int32(r.port), SourceAddress: "127.0.0.2"}}
	if secret != "" {
		p.Spec.PasswordSecretRef = &v1alpha1.SecretKeyRef{Name: secret}
	}
	return p
}

func established(sp *Speaker, peer string) bool {
	for _, s := range sp.Sessions() {
		if s.Peer == peer {
			return s.Established
		}
	}
	return false
}

func TestSpeaker_AnnouncesWithItselfAsNextHopAndWithdrawsAtTheFence(t *testing.T) {
	r := startRouter(t, "127.0.0.11", 64512, 64600, "127.0.0.2", "")
	in := baseInput()
	in.Peers = []*v1alpha1.BGPPeer{peerObj("r1", r, 64512, "")}
	sp := startSpeaker(t, Resolve(in))
	eventually(t, "session established", func() bool { return established(sp, "r1") })

	ecmp, single := netip.MustParseAddr("198.51.100.70"), netip.MustParseAddr("198.51.100.90")
	if err := sp.SetECMP(t.Context(), []netip.Addr{ecmp}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ECMP route reaches the router", func() bool { return len(r.lookup(t, "198.51.100.70/32").nextHops) == 1 })
	got := r.lookup(t, "198.51.100.70/32")
	if got.nextHops[0] != "127.0.0.2" || !slices.Equal(got.communities, []string{"65000:7"}) || got.large != 0 {
		t.Errorf("router has %+v; want next hop 127.0.0.2, community 65000:7, no internal tags", got)
	}
	if err := sp.Add(t.Context(), announce.Address{IP: single, Until: time.Now().Add(1500 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the single-mode route reaches the router", func() bool { return len(r.lookup(t, "198.51.100.90/32").nextHops) == 1 })
	eventually(t, "the single-mode route is withdrawn at its fence without a Remove", func() bool {
		return len(r.lookup(t, "198.51.100.90/32").nextHops) == 0
	})
	if n := len(r.lookup(t, "198.51.100.70/32").nextHops); n != 1 {
		t.Errorf("ECMP route next hops after the fence = %d, want 1 (untouched)", n)
	}
	if err := sp.Add(t.Context(), announce.Address{IP: single, Until: time.Now().Add(-time.Second)}); err == nil {
		t.Error("Add with a past Until = nil, want ErrExpired")
	}
}

func TestSpeaker_RefusingPeersAreReportedAndRetriedWhileTheOthersKeepTheirSessions(t *testing.T) {
	good := startRouter(t, "127.0.0.11", 64512, 64600, "127.0.0.2", "")
	wrongASN := startRouter(t, "127.0.0.12", 64513, 64600, "127.0.0.2", "")
	wrongPW := startRouter(t, "127.0.0.13", 64512, 64600, "127.0.0.2", "right")
	in := baseInput()
	in.Peers = []*v1alpha1.BGPPeer{peerObj("good", good, 64512, ""),
		peerObj("wrong-asn", wrongASN, 64999, ""), peerObj("wrong-password", wrongPW, 64512, "pw")}
	in.Secret = func(name, key string) (string, error) { return "wrong", nil }
	sp := startSpeaker(t, Resolve(in))
	eventually(t, "the good session is established", func() bool { return established(sp, "good") })
	eventually(t, "the wrong ASN is reported as a refusal", func() bool {
		for _, s := range sp.Sessions() {
			if s.Peer == "wrong-asn" && s.Refused {
				return true
			}
		}
		return false
	})
	time.Sleep(2 * time.Second) // retries with backoff go on meanwhile
	for _, s := range sp.Sessions() {
		if s.Peer == "good" && (!s.Established || s.Flaps != 0) {
			t.Errorf("good session %+v: want established, no flap", s)
		}
		if s.Peer != "good" && s.Established {
			t.Errorf("session %s established, want refused", s.Peer)
		}
	}
	if err := sp.CanCarry(netip.MustParseAddr("198.51.100.70")); err != nil {
		t.Errorf("CanCarry with one good session: %v", err)
	}
}

// baseInput has one IPv4 pool in ECMP mode with a community and one in single mode.
func baseInput() Input {
	pool := func(name, addr string) *v1alpha1.VIPPool {
		return &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.VIPPoolSpec{Addresses: []string{addr}}}
	}
	ad := func(name, mode string, pools ...string) *v1alpha1.BGPAdvertisement {
		return &v1alpha1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.BGPAdvertisementSpec{Pools: pools, Mode: mode}}
	}
	e := ad("ecmp", v1alpha1.ModeECMP, "spread")
	e.Spec.Communities = []string{"65000:7"}
	return Input{Node: "n1", Timing: Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second},
		Pools: []*v1alpha1.VIPPool{pool("spread", "198.51.100.64/28"), pool("one", "198.51.100.80/28")},
		Ads:   []*v1alpha1.BGPAdvertisement{e, ad("single", v1alpha1.ModeSingle, "one")}}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
