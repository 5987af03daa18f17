package announce

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv6"
)

// clientIP4 is the client's eth0 address (newLab): answers to its requests go there.
var clientIP4 = netip.MustParseAddr("198.51.100.3")

// probe is what answers saw: when each answer arrived, in order, and how many requests
// went out.
type probe struct {
	at   []time.Time
	sent int
}

// answers asks from the client for vip every `every` until stop (ARP requests for IPv4,
// Neighbor Solicitations for IPv6) on a fresh socket. Only answers to the client count:
// the Announcer's own gratuitous ARPs and unsolicited NAs do not. The node's kernel
// answers each request as it arrives, so a starved test process reads answers late but
// loses none: unanswered requests (sent - len(at)) show a closed gate robustly.
func (l *lab) answers(vip netip.Addr, every time.Duration, stop time.Time) probe {
	l.t.Helper()
	if vip.Is4() {
		return l.arpAnswers(vip, every, stop)
	}
	return l.ndpAnswers(vip, every, stop)
}

func (l *lab) arpAnswers(vip netip.Addr, every time.Duration, stop time.Time) probe {
	c := l.arpClient()
	return collect(stop, func() error { return c.Request(vip) }, func() (bool, error) {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		p, _, err := c.Read()
		if err != nil {
			return false, err
		}
		return p.Operation == arp.OperationReply && p.SenderIP == vip && p.TargetIP == clientIP4, nil
	}, every)
}

func (l *lab) ndpAnswers(vip netip.Addr, every time.Duration, stop time.Time) probe {
	c, ifi, src := l.ndpClient()
	snm, _ := ndp.SolicitedNodeMulticast(vip)
	ns := &ndp.NeighborSolicitation{TargetAddress: vip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}}}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: src.AsSlice(), IfIndex: ifi.Index}
	return collect(stop, func() error { return c.WriteTo(ns, cm, snm) }, func() (bool, error) {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		m, _, _, err := c.ReadFrom()
		if err != nil {
			return false, err
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		return ok && na.Solicited && na.TargetAddress == vip, nil
	}, every)
}

// collect sends with send every `every` until stop while reading with read (which
// reports whether a message is an answer, and times out after 20 ms) until the socket has
// been quiet for a read after stop + 50 ms.
func collect(stop time.Time, send func() error, read func() (bool, error), every time.Duration) probe {
	var (
		wg sync.WaitGroup
		p  probe
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			ok, err := read()
			if err == nil && ok {
				p.at = append(p.at, time.Now())
			}
			if err != nil && time.Now().After(stop.Add(50*time.Millisecond)) {
				return
			}
		}
	}()
	for time.Now().Before(stop) {
		if send() == nil {
			p.sent++
		}
		time.Sleep(every)
	}
	wg.Wait()
	return p
}

// maxGap returns the longest time between from, the answers within [from, to], and to.
func maxGap(got []time.Time, from, to time.Time) time.Duration {
	prev, gap := from, time.Duration(0)
	for _, at := range got {
		if at.Before(from) || at.After(to) {
			continue
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return max(gap, to.Sub(prev))
}

// unanswered is how many requests got no answer.
func (p probe) unanswered() int { return p.sent - len(p.at) }

// countFrom counts the answers at or after from.
func countFrom(got []time.Time, from time.Time) int {
	n := 0
	for _, at := range got {
		if !at.Before(from) {
			n++
		}
	}
	return n
}

// fenceSets lists the elements of the fence's four sets in the node namespace, by set.
func (l *lab) fenceSets(table string) map[string][]string {
	l.t.Helper()
	ns, err := netns.GetFromName(l.node)
	if err != nil {
		l.t.Fatalf("open node namespace: %v", err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		l.t.Fatalf("nftables: %v", err)
	}
	out := map[string][]string{}
	for _, fam := range []fenceFamily{newFamily(nftables.TableFamilyARP, table), newFamily(nftables.TableFamilyIPv6, table)} {
		for _, s := range []*nftables.Set{fam.vips, fam.live} {
			elems, err := c.GetSetElements(s)
			if err != nil {
				l.t.Fatalf("list %s in %s: %v", s.Name, table, err)
			}
			for _, e := range elems {
				ip, _ := netip.AddrFromSlice(e.Key)
				out[s.Name] = append(out[s.Name], ip.String())
			}
			slices.Sort(out[s.Name])
		}
	}
	return out
}

// fenced returns a fence-mode Announcer in the lab's node namespace.
func (l *lab) fenced(cfg Config) *Announcer {
	l.t.Helper()
	cfg.Fence = true
	return l.announcer(cfg)
}

// expiresOf returns when a's gate for ip closes at the earliest, as armLocked computed it.
func expiresOf(t testing.TB, a *Announcer, ip netip.Addr) time.Time {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	v := a.vips[ip]
	if v == nil {
		t.Fatalf("%s not held", ip)
	}
	return v.expires
}
