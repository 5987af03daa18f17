package announce

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults for Config fields left zero.
const (
	// DefaultProtocol marks vipkeeper's addresses in IFA_PROTO ('V').
	// The kernel uses 1-3 for its own addresses; iproute2 shows 0x56.
	DefaultProtocol uint8 = 0x56
	// DefaultBurstCount announcements follow the first one, like MetalLB's
	// five-second burst and keepalived's 5 GARPs.
	DefaultBurstCount = 5
	// DefaultBurstInterval spaces the burst (MetalLB uses 1.1 s).
	DefaultBurstInterval = time.Second
	// DefaultRefreshInterval re-announces every held VIP while held, so a
	// switch or client that missed the burst (metallb#584, cilium#48626)
	// learns within half a minute without flooding the segment.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultFenceTable names the nftables tables of the fence (Config.Fence).
	DefaultFenceTable = "vipkeeper"
	// DefaultAddrSlack is how far past Until an address's kernel lifetime reaches in
	// fence mode: the address is re-sent only about every AddrSlack/2 of lease progress.
	DefaultAddrSlack = 10 * time.Second
)

// Fence-mode bounds the core plans with (Config.Fence; docs/dataplane.md, "The nftables
// fence", has the measurements).
const (
	// FenceLateness bounds how long after Until the kernel may still answer ARP or NDP
	// for a VIP whose gate was not refreshed. Measured: never after the gate's timeout,
	// which ends at least a millisecond before Until; the bound covers a lagging jiffies
	// counter (a tick, 10 ms at HZ=100) and queueing past the output hook.
	FenceLateness = 20 * time.Millisecond
	// FenceMinLeft: Add with less than this left until Until removes the VIP and returns
	// ErrExpired.
	FenceMinLeft = 10 * time.Millisecond
)

// Config configures an Announcer. The zero value is valid.
type Config struct {
	// Interface carries every VIP. Empty: the interface whose connected
	// network covers the VIP.
	Interface string
	// BurstCount announcements follow the first, BurstInterval apart.
	BurstCount    int
	BurstInterval time.Duration
	// RefreshInterval re-announces held VIPs after the burst.
	RefreshInterval time.Duration
	// Protocol is the IFA_PROTO value marking owned addresses.
	Protocol uint8
	// NetNS is the path of a network namespace (/run/netns/x) to work in;
	// empty means the caller's, which is what production uses. For tests.
	NetNS string
	// Logger gets transitions at Info and announcements at Debug.
	Logger *slog.Logger
	// OnLinkChange, if set, is called (from Run) when an interface goes down or comes back
	// up, so the caller can ask CanCarry again: a node whose VIP interface lost its carrier
	// should step down so that another node serves the VIP.
	OnLinkChange func()
	// OnSend, if set, is called after every announcement attempt (metrics).
	// It runs with the Announcer's lock held and must not call back into it.
	OnSend func(vip netip.Addr, iface string, err error)
	// Fence makes the kernel stop announcing each VIP at its Until with millisecond
	// precision: nftables elements with a timeout gate the ARP and NDP messages for it
	// (doc.go, "Fence mode"). Off: the address's kernel lifetime, in whole seconds, is the
	// fence.
	Fence bool
	// FenceTable names the fence's tables ("arp <FenceTable>", "ip6 <FenceTable>"),
	// which New replaces. Default DefaultFenceTable.
	FenceTable string
	// AddrSlack is how far past Until the address lifetime reaches in fence mode.
	// Default DefaultAddrSlack; at least 2s.
	AddrSlack time.Duration
}

// maxTableName is NFT_NAME_MAXLEN (256) less the terminating NUL.
const maxTableName = 255

// Address is one desired VIP: hold ip until Until, which becomes the
// address's kernel lifetime (in fence mode, the gate's timeout). Until must
// come from time.Now() (monotonic).
type Address struct {
	IP    netip.Addr
	Until time.Time
	// Interfaces, if not empty, overrides Config.Interface for this VIP: interface names
	// or path.Match patterns ("eth*", "enp*s0f[01]") that may carry it. One plain name is
	// used as it is; otherwise the matching interface whose connected network covers the
	// VIP is chosen.
	Interfaces []string
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.BurstCount == 0 {
		c.BurstCount = DefaultBurstCount
	}
	if c.BurstInterval == 0 {
		c.BurstInterval = DefaultBurstInterval
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.Protocol == 0 {
		c.Protocol = DefaultProtocol
	}
	if c.FenceTable == "" {
		c.FenceTable = DefaultFenceTable
	}
	if c.AddrSlack == 0 {
		c.AddrSlack = DefaultAddrSlack
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case len(c.Interface) > unix.IFNAMSIZ-1:
		return fmt.Errorf("interface %q: name longer than %d characters", c.Interface, unix.IFNAMSIZ-1)
	case c.BurstCount < 0:
		return fmt.Errorf("burst count %d: must not be negative", c.BurstCount)
	case c.BurstInterval < 10*time.Millisecond:
		return fmt.Errorf("burst interval %s: must be at least 10ms", c.BurstInterval)
	case c.RefreshInterval < c.BurstInterval:
		return fmt.Errorf("refresh interval %s: must not be shorter than the burst interval %s",
			c.RefreshInterval, c.BurstInterval)
	case c.Protocol <= 3:
		return fmt.Errorf("protocol %d: 1-3 belong to the kernel", c.Protocol)
	case len(c.FenceTable) > maxTableName:
		return fmt.Errorf("fence table %q: name longer than %d characters", c.FenceTable, maxTableName)
	case c.AddrSlack < 2*time.Second:
		// The kernel counts the address lifetime in whole seconds and removes it up to a
		// second late; refreshed at AddrSlack/2, the address always outlives the gate.
		return fmt.Errorf("address slack %s: must be at least 2s", c.AddrSlack)
	}
	return nil
}
