package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/bgp"
	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/daemon"
)

// BGPConfig is the BGP part of AgentConfig (docs/bgp.md). The peers and advertisements are
// CRDs; only the speaker's identity is a flag.
type BGPConfig struct {
	Enabled  bool
	RouterID string
}

func (c *BGPConfig) bind(fs *flag.FlagSet) {
	fs.BoolVar(&c.Enabled, "bgp", false, "run the BGP speaker: pools named by a BGPAdvertisement are announced by BGP (docs/bgp.md)")
	fs.StringVar(&c.RouterID, "bgp-router-id", "", "BGP identifier, an IPv4 address (default: the first IPv4 address of --interface, else of any interface)")
}

func (c BGPConfig) validate() error {
	if c.RouterID == "" {
		return nil
	}
	if a, err := netip.ParseAddr(c.RouterID); err != nil || !a.Is4() || a.IsUnspecified() {
		return fmt.Errorf("--bgp-router-id %q: want a non-zero IPv4 address", c.RouterID)
	}
	return nil
}

// routing sends every VIP to the plane its pool's BGPAdvertisement names: ARP/NDP (no
// advertisement), BGP single mode (the daemon's election, through Add/Remove) or BGP
// ECMP mode (every candidate announces, no election). nil routing is L2 only.
type routing struct {
	l2      daemon.Dataplane // the ARP/NDP plane (announce.Announcer)
	speaker *bgp.Speaker
	watcher *bgp.Watcher
	log     *slog.Logger
}

// newRouting builds the BGP speaker and its watcher when cfg.BGP.Enabled; onChange is
// called when what the node can carry may have changed (sessions, plan).
func newRouting(cfg AgentConfig, log *slog.Logger, rc *rest.Config, client kubernetes.Interface,
	l2 daemon.Dataplane, rec record.EventRecorder, reg prometheus.Registerer, onChange func()) (*routing, error) {
	if !cfg.BGP.Enabled {
		return nil, nil
	}
	id, err := routerID(cfg)
	if err != nil {
		return nil, err
	}
	sp, err := bgp.New(bgp.Config{RouterID: id, Logger: log, OnChange: onChange})
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	w, err := bgp.NewWatcher(bgp.WatchConfig{Client: client, Dynamic: dyn, Namespace: cfg.Namespace,
		NodeName: cfg.NodeName, Speaker: sp, Recorder: rec, Logger: log,
		Timing: bgp.Timing{LeaseDuration: cfg.Timing.LeaseDuration, RenewDeadline: cfg.Timing.RenewDeadline}})
	if err != nil {
		return nil, err
	}
	reg.MustRegister(sp.Collector())
	return &routing{l2: l2, speaker: sp, watcher: w, log: log}, nil
}

// routerID is --bgp-router-id, or the first IPv4 address of --interface, else of any
// interface that is up and not loopback.
func routerID(cfg AgentConfig) (netip.Addr, error) {
	if cfg.BGP.RouterID != "" {
		return netip.ParseAddr(cfg.BGP.RouterID)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("router id: %w", err)
	}
	for _, want := range []bool{true, false} {
		for _, ifc := range ifs {
			if (ifc.Name == cfg.Interface) != want || ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
				continue
			}
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && p.Addr().IsGlobalUnicast() {
					return p.Addr(), nil
				}
			}
		}
	}
	return netip.Addr{}, errors.New("router id: no interface has an IPv4 address; set --bgp-router-id")
}

// Plane is the daemon's data plane: single-mode VIPs go to the speaker, the rest to L2.
func (r *routing) Plane() daemon.Dataplane {
	if r == nil {
		return nil
	}
	return plane{r}
}

type plane struct{ r *routing }

var _ daemon.Dataplane = plane{}

func (p plane) Add(ctx context.Context, a announce.Address) error {
	switch mode, ok := p.r.speaker.Mode(a.IP); {
	case !ok:
		return p.r.l2.Add(ctx, a)
	case mode == v1alpha1.ModeSingle:
		return p.r.speaker.Add(ctx, a)
	default:
		return fmt.Errorf("add %s: its pool is announced in mode %s, without an election", a.IP, mode)
	}
}

// Remove withdraws from both planes: the VIP's mode may have changed since it was added.
func (p plane) Remove(ctx context.Context, ip netip.Addr) error {
	return errors.Join(p.r.speaker.Remove(ctx, ip), p.r.l2.Remove(ctx, ip))
}

// Set is the L2 plane's: BGP routes do not outlive the process that announced them (the
// speaker is in-process), so only addresses need the start-up sweep.
func (p plane) Set(ctx context.Context, desired []announce.Address) error {
	return p.r.l2.Set(ctx, desired)
}

// CanCarry asks the plane of the VIP's mode.
func (r *routing) CanCarry(l2 func(netip.Addr, []string) error) func(netip.Addr, []string) error {
	if r == nil {
		return l2
	}
	return func(ip netip.Addr, interfaces []string) error {
		if _, ok := r.speaker.Mode(ip); ok {
			return r.speaker.CanCarry(ip)
		}
		return l2(ip, interfaces)
	}
}

// Elections hands the ECMP-mode VIPs this node is a candidate for to the speaker, and
// every other VIP to next (the daemon), so no election runs for ECMP VIPs.
func (r *routing) Elections(next controller.Elections) controller.Elections {
	if r == nil {
		return next
	}
	return ecmpSplit{r: r, next: next}
}

type ecmpSplit struct {
	r    *routing
	next controller.Elections
}

func (e ecmpSplit) Want(in map[netip.Addr]controller.Want) {
	rest := make(map[netip.Addr]controller.Want, len(in))
	var ecmp []netip.Addr
	for ip, w := range in {
		if mode, ok := e.r.speaker.Mode(ip); ok && mode == v1alpha1.ModeECMP {
			if w.Eligible {
				ecmp = append(ecmp, ip)
			}
			continue
		}
		rest[ip] = w
	}
	if err := e.r.speaker.SetECMP(context.Background(), ecmp); err != nil && !errors.Is(err, bgp.ErrClosed) {
		e.r.log.Error("ECMP routes", "err", err)
	}
	e.next.Want(rest)
}

// Synced reports whether the BGP plan has been computed from synced caches.
func (r *routing) Synced() bool { return r == nil || r.watcher.HasSynced() }

// RunSpeaker runs the speaker until ctx ends, then withdraws every route. Give it a
// context that outlives the daemon's stop, so single-mode Removes still reach it.
func (r *routing) RunSpeaker(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.speaker.Run(ctx)
}

// RunWatcher feeds the speaker its plan until ctx ends.
func (r *routing) RunWatcher(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.watcher.Run(ctx)
}
