package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/announce"
)

// Sentinel errors of the data-plane calls; test with errors.Is.
var (
	ErrExpired     = errors.New("fence already passed")
	ErrNotRoutable = errors.New("no BGP advertisement lets this node announce the vip to an established peer")
)

// fence withdraws a single-mode route at its Until unless a later Add moved it.
type fence struct {
	until time.Time
	timer *time.Timer
}

func (f *fence) stop() {
	if f.timer != nil {
		f.timer.Stop()
	}
}

// Add announces a.IP in single mode until a.Until: the elected holder calls it on every
// Announce. A later Add moves the fence; with none, the route is withdrawn at a.Until by
// the speaker itself, so a stuck daemon loop cannot keep it past the fence (a frozen or
// killed process cannot withdraw at all: the router's hold timer does, docs/bgp.md).
func (s *Speaker) Add(_ context.Context, a announce.Address) error {
	ip := a.IP.Unmap()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	left := time.Until(a.Until)
	if left <= 0 {
		s.dropSingleLocked(ip)
		return errors.Join(fmt.Errorf("announce %s: %w", ip, ErrExpired), s.reconcileLocked())
	}
	if _, ok := s.plan.routeFor(ip); !ok {
		return fmt.Errorf("announce %s: %w", ip, ErrNotRoutable)
	}
	if f := s.single[ip]; f != nil {
		f.stop()
	}
	f := &fence{until: a.Until}
	f.timer = time.AfterFunc(left, func() { s.expire(ip, f) })
	s.single[ip] = f
	return s.reconcileLocked()
}

// expire withdraws ip if f is still its fence.
func (s *Speaker) expire(ip netip.Addr, f *fence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.single[ip] != f {
		return
	}
	delete(s.single, ip)
	if err := s.reconcileLocked(); err != nil {
		s.log.Error("withdraw at the fence", "vip", ip.String(), "err", err)
		return
	}
	s.log.Warn("route withdrawn at its fence: no renewal came", "vip", ip.String())
}

// Remove withdraws a single-mode route (the elector's Withdraw). It returns once GoBGP
// has taken the path out of its table and queued the withdrawal to every peer.
func (s *Speaker) Remove(_ context.Context, ip netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil // Run withdrew everything
	}
	s.dropSingleLocked(ip.Unmap())
	return s.reconcileLocked()
}

func (s *Speaker) dropSingleLocked(ip netip.Addr) {
	if f := s.single[ip]; f != nil {
		f.stop()
		delete(s.single, ip)
	}
}

// SetECMP makes ips the whole set of ECMP-mode VIPs this node announces (every VIP it
// is a candidate for). It is idempotent; VIPs the plan does not let this node send are
// kept and announced once it does.
func (s *Speaker) SetECMP(_ context.Context, ips []netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	clear(s.ecmp)
	for _, ip := range ips {
		s.ecmp[ip.Unmap()] = true
	}
	return s.reconcileLocked()
}

// Mode returns the advertisement mode of ip; false: ip is announced by ARP/NDP.
func (s *Speaker) Mode(ip netip.Addr) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plan.Mode(ip.Unmap())
}

// CanCarry says whether this node can announce a BGP-mode VIP now: an advertisement of
// its pool selects this node and sends it to a peer of its family whose session is
// established. A node that cannot is no candidate, so in single mode another node
// holds the VIP instead of a node whose routes reach no router.
func (s *Speaker) CanCarry(ip netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := s.plan.peersFor(ip.Unmap())
	if len(peers) == 0 {
		return fmt.Errorf("%s: no BGP advertisement of its pool sends it from this node to a peer of its family", ip)
	}
	for _, name := range peers {
		if sess := s.sessions[name]; sess != nil && sess.snapshot().Established {
			return nil
		}
	}
	return fmt.Errorf("%s: no BGP session to its peers (%v) is established", ip, peers)
}

// Announced returns the VIPs this node originates now, sorted.
func (s *Speaker) Announced() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.Addr, 0, len(s.paths))
	for ip := range s.paths {
		out = append(out, ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// RoutesTo returns how many routes this node sends to each peer, by peer name.
func (s *Speaker) RoutesTo() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for ip := range s.paths {
		for _, peer := range s.plan.peersFor(ip) {
			if sess := s.sessions[peer]; sess != nil && sess.snapshot().Established {
				out[peer]++
			}
		}
	}
	return out
}
