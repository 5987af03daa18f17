package announce

import (
	"errors"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv6"
)

// inClient runs f in the client namespace.
func (l *lab) inClient(f func() error) {
	l.t.Helper()
	ns, err := netns.GetFromName(l.client)
	if err != nil {
		l.t.Fatalf("open client namespace: %v", err)
	}
	defer ns.Close()
	if err := inNS(ns, f); err != nil {
		l.t.Fatalf("in client namespace: %v", err)
	}
}

// arpClient opens an ARP socket on the client's eth0.
func (l *lab) arpClient() *arp.Client {
	l.t.Helper()
	var c *arp.Client
	l.inClient(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	})
	l.t.Cleanup(func() { _ = c.Close() })
	return c
}

// probes is how many requests the whoHas helpers send, spread over their
// wait, as real clients retransmit (RFC 4861 sends 3 solicitations): the
// kernel joins a new IPv6 address's solicited-node group asynchronously.
const probes = 3

// arpWhoHas asks from the client who has vip and returns the MACs of all
// ARP packets about vip seen within wait.
func (l *lab) arpWhoHas(vip netip.Addr, wait time.Duration) []string {
	l.t.Helper()
	c := l.arpClient()
	seen := map[string]bool{}
	for range probes {
		if err := c.Request(vip); err != nil {
			l.t.Fatalf("arp request: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait / probes))
		for {
			p, _, err := c.Read()
			if isTimeout(err) {
				break
			}
			if err != nil {
				l.t.Fatalf("arp read: %v", err)
			}
			if p.SenderIP == vip {
				seen[p.SenderHardwareAddr.String()] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// ndpWhoHas sends Neighbor Solicitations for vip from the client and
// returns the target link-layer addresses of all advertisements for vip
// seen within wait.
func (l *lab) ndpWhoHas(vip netip.Addr, wait time.Duration) []string {
	l.t.Helper()
	c, ifi, src := l.ndpClient()
	snm, _ := ndp.SolicitedNodeMulticast(vip)
	ns := &ndp.NeighborSolicitation{TargetAddress: vip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}}}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: src.AsSlice(), IfIndex: ifi.Index}
	seen := map[string]bool{}
	for range probes {
		if err := c.WriteTo(ns, cm, snm); err != nil {
			l.t.Fatalf("send neighbor solicitation: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait / probes))
		for {
			m, _, _, err := c.ReadFrom()
			if isTimeout(err) {
				break
			}
			if err != nil {
				l.t.Fatalf("ndp read: %v", err)
			}
			if na, ok := m.(*ndp.NeighborAdvertisement); ok && na.TargetAddress == vip {
				seen[targetLLA(na)] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// ndpClient opens an ICMPv6 socket in the client namespace (bound to ::,
// without zone names, which Go would resolve in the host namespace) and
// returns it with eth0 and eth0's link-local address.
func (l *lab) ndpClient() (*ndp.Conn, *net.Interface, netip.Addr) {
	l.t.Helper()
	var c *ndp.Conn
	var ifi *net.Interface
	var src netip.Addr
	l.inClient(func() error {
		named, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := named.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().IsLinkLocalUnicast() {
				src = p.Addr()
			}
		}
		ifi = &net.Interface{Index: named.Index, HardwareAddr: named.HardwareAddr, MTU: named.MTU}
		c, _, err = ndp.Listen(ifi, ndp.Unspecified)
		return err
	})
	l.t.Cleanup(func() { _ = c.Close() })
	return c, ifi, src
}

func targetLLA(na *ndp.NeighborAdvertisement) string {
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			return lla.Addr.String()
		}
	}
	return "(no target lla)"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}
