package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

// ProberConfig configures a Prober.
type ProberConfig struct {
	NetNS     string // named network namespace of the client
	Interface string // the client's interface on the data LAN
	// Interval between rounds; a round is one ARP request or Neighbor Solicitation per
	// watched VIP. Default 100ms.
	Interval time.Duration
	// Wait is how long a round collects replies before it is recorded; it must be shorter
	// than len(Sources4) intervals. Default: 4 intervals (at most len(Sources4)-1).
	Wait time.Duration
	// Sources4 and Sources6 (same length, at least 2) are client addresses on Interface.
	// Round n asks from Sources[n mod len], so every reply, addressed to its request's
	// source, names its round: a late reply never lands in the wrong round, where it
	// would fake an outage or a split brain.
	Sources4, Sources6 []netip.Addr
	// Owner names the node a MAC belongs to; "" (or a nil Owner) shows the MAC itself.
	Owner    func(net.HardwareAddr) string
	Timeline *Timeline // where rounds and announcements go
}

func (c ProberConfig) withDefaults() ProberConfig {
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Wait <= 0 {
		c.Wait = time.Duration(min(4, len(c.Sources4)-1)) * c.Interval
	}
	return c
}

// Validate checks the configuration after defaults.
func (c ProberConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Timeline == nil:
		return errors.New("prober: no Timeline")
	case len(c.Sources4) < 2 || len(c.Sources4) != len(c.Sources6):
		return fmt.Errorf("prober: %d IPv4 and %d IPv6 sources, want the same number, at least 2",
			len(c.Sources4), len(c.Sources6))
	case c.Wait >= time.Duration(len(c.Sources4))*c.Interval:
		return fmt.Errorf("prober: wait %v must be shorter than %d intervals of %v", c.Wait, len(c.Sources4), c.Interval)
	}
	return nil
}

// Prober asks, from a client on the data LAN, who has each watched VIP, every round, and
// records the set of nodes that answered in a Timeline. It also logs the gratuitous ARPs
// and unsolicited Neighbor Advertisements it sees. The holder's kernel answers (vipkeeper
// runs no responder), so an answer means "the VIP is on that node's eth0".
type Prober struct {
	cfg ProberConfig
	arp *arp.Client
	ndp *ndp.Conn
	ifi *net.Interface

	mu    sync.Mutex
	vips  map[netip.Addr]bool
	ring  []*round // indexed by source: the rounds still collecting replies
	seq   int      // next round
	errs  int      // requests that could not be sent
	reads int      // replies that named no open round
}

// round is one probe round collecting replies.
type round struct {
	seq     int
	at      time.Time
	answers map[netip.Addr]map[string]bool // every VIP asked for, with who answered
}

// NewProber opens the ARP and ICMPv6 sockets in the client namespace.
func NewProber(cfg ProberConfig) (*Prober, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Prober{cfg: cfg, vips: map[netip.Addr]bool{}, ring: make([]*round, len(cfg.Sources4))}
	if err := inNS(cfg.NetNS, p.open); err != nil {
		p.close()
		return nil, fmt.Errorf("prober in %s: %w", cfg.NetNS, err)
	}
	return p, nil
}

// Watch adds VIPs to every following round.
func (p *Prober) Watch(vips ...netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range vips {
		p.vips[v.Unmap()] = true
	}
}

// Unwatch removes VIPs from the following rounds.
func (p *Prober) Unwatch(vips ...netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range vips {
		delete(p.vips, v.Unmap())
	}
}

// Watched returns the watched VIPs, sorted.
func (p *Prober) Watched() []netip.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.watchedLocked()
}

func (p *Prober) watchedLocked() []netip.Addr {
	out := make([]netip.Addr, 0, len(p.vips))
	for v := range p.vips {
		out = append(out, v)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Counters returns how many requests could not be sent and how many replies came too
// late for their round (or named none).
func (p *Prober) Counters() (sendErrors, strayReplies int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs, p.reads
}

// Run probes until ctx ends, then closes the sockets. Rounds still waiting for replies
// then are dropped. It returns early only when reading a socket fails for another reason
// than a timeout.
func (p *Prober) Run(ctx context.Context) error {
	defer p.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	for _, read := range []func(context.Context) error{p.readARP, p.readNDP} {
		go func() {
			err := read(ctx)
			cancel() // one reader failing ends the prober
			errc <- err
		}()
	}
	p.rounds(ctx)
	return errors.Join(<-errc, <-errc)
}

// rounds starts a round every interval and records the rounds whose wait is over.
func (p *Prober) rounds(ctx context.Context) {
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		p.record(p.due(time.Now()))
		slot, vips := p.openRound(time.Now())
		p.send(slot, vips)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// due takes the rounds whose wait ended by now, oldest first.
func (p *Prober) due(now time.Time) []*round {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*round
	for i, r := range p.ring {
		if r != nil && now.Sub(r.at) >= p.cfg.Wait {
			out = append(out, r)
			p.ring[i] = nil
		}
	}
	slices.SortFunc(out, func(a, b *round) int { return a.seq - b.seq })
	return out
}

// openRound starts the next round and returns its source slot and VIPs. A round still
// open in that slot (possible only if the prober stalled) is recorded first.
func (p *Prober) openRound(now time.Time) (int, []netip.Addr) {
	p.mu.Lock()
	slot := p.seq % len(p.ring)
	stale := p.ring[slot]
	vips := p.watchedLocked()
	r := &round{seq: p.seq, at: now, answers: make(map[netip.Addr]map[string]bool, len(vips))}
	for _, v := range vips {
		r.answers[v] = map[string]bool{}
	}
	p.ring[slot] = r
	p.seq++
	p.mu.Unlock()
	if stale != nil {
		p.record([]*round{stale})
	}
	return slot, vips
}

// record writes rounds to the Timeline.
func (p *Prober) record(rounds []*round) {
	for _, r := range rounds {
		for vip, who := range r.answers {
			nodes := make([]string, 0, len(who))
			for n := range who {
				nodes = append(nodes, n)
			}
			p.cfg.Timeline.Record(vip, r.at, nodes)
		}
	}
}

// answered notes that the owner of mac answered vip in the round of source slot.
func (p *Prober) answered(slot int, vip netip.Addr, mac net.HardwareAddr) {
	node := p.owner(mac)
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.ring[slot]
	if r == nil || r.answers[vip] == nil {
		p.reads++
		return
	}
	r.answers[vip][node] = true
}

func (p *Prober) announced(vip netip.Addr, mac net.HardwareAddr) {
	p.mu.Lock()
	watched := p.vips[vip]
	p.mu.Unlock()
	if watched {
		p.cfg.Timeline.RecordAnnouncement(Announcement{At: time.Now(), VIP: vip, Node: p.owner(mac)})
	}
}

func (p *Prober) owner(mac net.HardwareAddr) string {
	if p.cfg.Owner != nil {
		if n := p.cfg.Owner(mac); n != "" {
			return n
		}
	}
	return mac.String()
}
