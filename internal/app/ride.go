package app

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/peer"
)

// RideConfig is the ride-through's timing, shared by both roles: the agents ride, and the
// controller's collector waits out the cap before revoking a departed node's presence.
type RideConfig struct {
	Cap       time.Duration // X
	ClockRate float64       // ρ
}

func (r *RideConfig) bind(fs *flag.FlagSet) {
	fs.DurationVar(&r.Cap, "ride-cap", 5*time.Minute, "longest a holder keeps announcing on its peers' attestations past its last renewal (X; takes effect with --peer-key-dir)")
	fs.Float64Var(&r.ClockRate, "clock-rate-bound", 0.001, "bound on any node's clock-rate error (ρ) that the ride-through's waits allow for")
}

func (r RideConfig) validate(add func(bool, string, ...any)) {
	add(r.Cap > 0, "--ride-cap %v must be positive", r.Cap)
	add(r.ClockRate > 0 && r.ClockRate < 0.05, "--clock-rate-bound %v must be in (0, 0.05)", r.ClockRate)
}

// election is the core's ride-through setting for a cap that is on.
func (r RideConfig) election() election.RideConfig {
	return election.RideConfig{Cap: r.Cap, ClockRate: r.ClockRate}
}

// PeerConfig is the agent's peer channel; a key directory turns the ride-through on.
type PeerConfig struct {
	KeyDir    string
	Listen    string
	Advertise string
}

// DefaultPeerPort is the peer channel's UDP port.
const DefaultPeerPort = 9474

func (c *PeerConfig) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.KeyDir, "peer-key-dir", "", "directory of the peer keys (a mounted Secret: one file per key, optional file `current` names the signing key); set, it turns the ride-through on (docs/ride-through.md)")
	fs.StringVar(&c.Listen, "peer-listen", ":"+strconv.Itoa(DefaultPeerPort), "UDP address of the peer channel")
	fs.StringVar(&c.Advertise, "peer-advertise", "", "host:port published on this node's presence Lease for its peers (default $NODE_IP with the --peer-listen port)")
}

func (c PeerConfig) validate(add func(bool, string, ...any), bgp bool) {
	if c.KeyDir == "" {
		return
	}
	add(!bgp, "--peer-key-dir (the ride-through) does not combine with --bgp yet: the nftables fence gates ARP and NDP, not BGP routes")
	_, err := c.advertise()
	add(err == nil, "--peer-advertise: %v", err)
}

// advertise is the address published for peers.
func (c PeerConfig) advertise() (netip.AddrPort, error) {
	if c.Advertise != "" {
		return netip.ParseAddrPort(c.Advertise)
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("--peer-listen %q: %w", c.Listen, err)
	}
	ip, err := netip.ParseAddr(os.Getenv("NODE_IP"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("neither --peer-advertise nor $NODE_IP (the downward API's status.hostIP) is set")
	}
	return netip.ParseAddrPort(net.JoinHostPort(ip.String(), port))
}

// rideOn is whether the agent rides through.
func (c AgentConfig) rideOn() bool { return c.Peer.KeyDir != "" }

// fenceElection sets the core for the nftables fence and the ride-through.
func fenceElection(ec *election.Config, r RideConfig) {
	ec.MinLifetime = announce.FenceMinLeft
	ec.KernelSlack, ec.KernelLateness = fenceSlack, announce.FenceLateness
	ec.Ride = r.election()
}

// fenceSlack is how far past the deadline the nftables element reaches: room for the
// data-plane queue to refresh it before it lapses.
const fenceSlack = 100 * time.Millisecond

// newPeers opens the peer channel.
func newPeers(cfg AgentConfig, log *slog.Logger, reg prometheus.Registerer) (*peer.Channel, error) {
	ch, err := peer.New(peer.Config{Node: cfg.NodeName, Listen: cfg.Peer.Listen, KeyDir: cfg.Peer.KeyDir,
		Logger: log.With("component", "peer channel"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("peer channel: %w", err)
	}
	return ch, nil
}
