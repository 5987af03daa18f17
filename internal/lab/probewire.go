package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// readSlice bounds one blocking read, so readers notice the end of their ctx.
const readSlice = 200 * time.Millisecond

// open opens the sockets; it runs in the client namespace.
func (p *Prober) open() error {
	ifi, err := net.InterfaceByName(p.cfg.Interface)
	if err != nil {
		return err
	}
	if p.arp, err = arp.Dial(ifi); err != nil {
		return fmt.Errorf("arp socket on %s: %w", ifi.Name, err)
	}
	// No Name: ndp would use it as the IPv6 zone, which Go resolves in the namespace of
	// whichever thread sends. The interface comes from IPV6_PKTINFO's index instead.
	p.ifi = &net.Interface{Index: ifi.Index, HardwareAddr: ifi.HardwareAddr, MTU: ifi.MTU}
	if p.ndp, _, err = ndp.Listen(p.ifi, ndp.Unspecified); err != nil {
		return fmt.Errorf("icmpv6 socket on %s: %w", ifi.Name, err)
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeNeighborAdvertisement) // the only ICMPv6 message we read
	if err := p.ndp.SetICMPFilter(&f); err != nil {
		return err
	}
	return p.ndp.SetControlMessage(ipv6.FlagDst, true) // the destination names the round
}

func (p *Prober) close() {
	if p.arp != nil {
		_ = p.arp.Close()
	}
	if p.ndp != nil {
		_ = p.ndp.Close()
	}
}

// send asks for every VIP from the source of slot.
// paceBatch requests go out back to back; between batches the prober pauses so that a
// round's requests span a quarter of the interval. A round of a thousand VIPs sent in one
// burst brings a thousand replies back within milliseconds, more than the client socket's
// receive buffer holds: the kernel dropped hundreds of them (/proc/net/raw6), which read as
// dark VIPs.
const paceBatch = 64

func (p *Prober) send(slot int, vips []netip.Addr) {
	gap := p.cfg.Interval / 4 / time.Duration(len(vips)/paceBatch+1)
	for i, vip := range vips {
		if i > 0 && i%paceBatch == 0 {
			time.Sleep(gap)
		}
		var err error
		if vip.Is4() {
			err = p.askARP(p.cfg.Sources4[slot], vip)
		} else {
			err = p.askNDP(p.cfg.Sources6[slot], vip)
		}
		if err != nil {
			p.mu.Lock()
			p.errs++
			p.mu.Unlock()
		}
	}
}

func (p *Prober) askARP(src, vip netip.Addr) error {
	pkt, err := arp.NewPacket(arp.OperationRequest, p.ifi.HardwareAddr, src, ethernet.Broadcast, vip)
	if err != nil {
		return err
	}
	_ = p.arp.SetWriteDeadline(time.Now().Add(p.cfg.Interval))
	return p.arp.WriteTo(pkt, ethernet.Broadcast)
}

func (p *Prober) askNDP(src, vip netip.Addr) error {
	snm, err := ndp.SolicitedNodeMulticast(vip)
	if err != nil {
		return err
	}
	m := &ndp.NeighborSolicitation{TargetAddress: vip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: p.ifi.HardwareAddr}}}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: src.AsSlice(), IfIndex: p.ifi.Index}
	_ = p.ndp.SetWriteDeadline(time.Now().Add(p.cfg.Interval))
	return p.ndp.WriteTo(m, cm, snm)
}

// readARP handles ARP packets until ctx ends: replies to our requests are answers,
// gratuitous ones (sender IP = target IP) are announcements.
func (p *Prober) readARP(ctx context.Context) error {
	for ctx.Err() == nil {
		_ = p.arp.SetReadDeadline(time.Now().Add(readSlice))
		pkt, _, err := p.arp.Read()
		switch {
		case isTimeout(err):
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("read arp: %w", err)
		}
		vip := pkt.SenderIP.Unmap()
		if pkt.SenderIP == pkt.TargetIP {
			p.announced(vip, pkt.SenderHardwareAddr)
		} else if slot := slices.Index(p.cfg.Sources4, pkt.TargetIP.Unmap()); pkt.Operation == arp.OperationReply && slot >= 0 {
			p.answered(slot, vip, pkt.SenderHardwareAddr)
		}
	}
	return nil
}

// readNDP handles Neighbor Advertisements until ctx ends: solicited ones are answers,
// unsolicited ones announcements. The node is the one named by the target link-layer
// address, which Linux includes when the solicitation went to a multicast group.
func (p *Prober) readNDP(ctx context.Context) error {
	for ctx.Err() == nil {
		_ = p.ndp.SetReadDeadline(time.Now().Add(readSlice))
		m, cm, _, err := p.ndp.ReadFrom()
		switch {
		case isTimeout(err):
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("read icmpv6: %w", err)
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok {
			continue
		}
		if !na.Solicited {
			p.announced(na.TargetAddress, targetLLA(na))
		} else if slot := slices.Index(p.cfg.Sources6, dst(cm)); slot >= 0 {
			p.answered(slot, na.TargetAddress, targetLLA(na))
		}
	}
	return nil
}

func dst(cm *ipv6.ControlMessage) netip.Addr {
	if cm == nil {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(cm.Dst)
	return a
}

func targetLLA(na *ndp.NeighborAdvertisement) net.HardwareAddr {
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			return lla.Addr
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}
