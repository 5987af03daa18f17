package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv6"
)

// writeTimeout bounds one announcement write; sends happen under the
// announcer's lock.
const writeTimeout = time.Second

// allNodes is ff02::1, where unsolicited Neighbor Advertisements go.
var allNodes = netip.MustParseAddr("ff02::1")

// transmitter sends announcements. It is the seam tests use to inject send
// failures; wire is the real one.
type transmitter interface {
	// announce sends one round for ip (which is already on l).
	announce(l link, ip netip.Addr) error
	// drop closes l's sockets; the next announce reopens them.
	drop(index int)
	close() error
}

// wire sends gratuitous ARP and unsolicited NA on per-interface sockets,
// opened lazily in the announcer's network namespace.
type wire struct {
	ns netns.NsHandle

	mu    sync.Mutex
	socks map[int]*linkSocks
}

type linkSocks struct {
	arp *packet.Conn // AF_PACKET, protocol 0: sends only, never receives
	ndp *ndp.Conn    // ICMPv6 with every type filtered out: sends only
}

var _ transmitter = (*wire)(nil)

func newWire(ns netns.NsHandle) *wire {
	return &wire{ns: ns, socks: map[int]*linkSocks{}}
}

func (w *wire) announce(l link, ip netip.Addr) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.socks[l.index]
	if s == nil {
		s = &linkSocks{}
		w.socks[l.index] = s
	}
	if ip.Is4() {
		return w.garp(s, l, ip)
	}
	return w.na(s, l, ip)
}

// garp sends MetalLB's pair of gratuitous ARPs: a request and a reply, both
// broadcast with sender and target IP set to the VIP. Hosts and switches
// differ in which form refreshes their cache (RFC 5227 §3 prefers requests,
// RFC 5944 §4.6 and many switches use replies), so both go out.
func (w *wire) garp(s *linkSocks, l link, ip netip.Addr) error {
	if s.arp == nil {
		ifi := &net.Interface{Index: l.index, Name: l.name, HardwareAddr: l.hw}
		err := inNS(w.ns, func() (err error) {
			s.arp, err = packet.Listen(ifi, packet.Raw, 0, nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("open packet socket: %w", err)
		}
	}
	for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		frame, err := garpFrame(op, l.hw, ip)
		if err != nil {
			return err
		}
		_ = s.arp.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := s.arp.WriteTo(frame, &packet.Addr{HardwareAddr: ethernet.Broadcast}); err != nil {
			return fmt.Errorf("send gratuitous arp %s: %w", op, err)
		}
	}
	return nil
}

func garpFrame(op arp.Operation, hw net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(op, hw, ip, ethernet.Broadcast, ip)
	if err != nil {
		return nil, fmt.Errorf("build gratuitous arp (mac %q): %w", hw, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := ethernet.Frame{Destination: ethernet.Broadcast, Source: hw, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

// na sends an unsolicited Neighbor Advertisement to all nodes with
// Override=1, so caches holding the previous holder's MAC are overwritten
// (RFC 4861 §7.2.6). The source is the VIP itself, as the kernel does for
// its own unsolicited NAs; the kernel refuses that source unless the
// address is on the interface, a last guard against announcing early.
func (w *wire) na(s *linkSocks, l link, ip netip.Addr) error {
	if s.ndp == nil {
		if err := w.openNDP(s, l); err != nil {
			return err
		}
	}
	m := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: l.hw}},
	}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: ip.AsSlice(), IfIndex: l.index}
	_ = s.ndp.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := s.ndp.WriteTo(m, cm, allNodes); err != nil {
		return fmt.Errorf("send neighbor advertisement: %w", err)
	}
	return nil
}

func (w *wire) openNDP(s *linkSocks, l link) error {
	// No Name: ndp would use it as the IPv6 zone of every destination, and
	// Go resolves zones in the namespace of whichever thread sends. The
	// interface comes from IPV6_PKTINFO's index in each send instead.
	ifi := &net.Interface{Index: l.index, HardwareAddr: l.hw, MTU: 1280}
	err := inNS(w.ns, func() error {
		c, _, err := ndp.Listen(ifi, ndp.Unspecified)
		if err != nil {
			return err
		}
		var f ipv6.ICMPFilter
		f.SetAll(true) // receive nothing: the kernel answers solicitations
		if err := c.SetICMPFilter(&f); err != nil {
			c.Close()
			return err
		}
		s.ndp = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("open icmpv6 socket: %w", err)
	}
	return nil
}

func (w *wire) drop(index int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.socks[index]; s != nil {
		s.close()
		delete(w.socks, index)
	}
}

func (w *wire) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for i, s := range w.socks {
		errs = append(errs, s.close())
		delete(w.socks, i)
	}
	return errors.Join(errs...)
}

func (s *linkSocks) close() error {
	var errs []error
	if s.arp != nil {
		errs = append(errs, s.arp.Close())
	}
	if s.ndp != nil {
		errs = append(errs, s.ndp.Close())
	}
	return errors.Join(errs...)
}
