package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// kernelPort is what the Announcer asks of netlink; *kernel is the real one, and tests wrap
// it to slow a call down or make it fail.
type kernelPort interface {
	replace(s addrSpec) error
	del(index int, ip netip.Addr) error
	list() ([]kaddr, error)
	links() ([]link, error)
	linkByName(name string) (link, error)
	linkByIndex(index int) (link, error)
	close()
}

var _ kernelPort = (*kernel)(nil)

// Announcer puts VIPs on the node's interfaces and announces them. It is
// safe for concurrent use; calls for different VIPs may overlap.
type Announcer struct {
	cfg  Config
	log  *slog.Logger
	mark marker
	ns   netns.NsHandle
	k    kernelPort
	tx   transmitter
	// fence gates the kernel's ARP and NDP messages per VIP (Config.Fence); nil when off.
	fence fencePort
	wake  chan struct{} // a VIP was added: Run recomputes its timer
	done  chan struct{} // closed by Close
	runs  sync.WaitGroup

	mu sync.Mutex
	// carry is what CanCarryOn answers from (nil: take a fresh dump).
	carry *carrySnap
	// Add's address dump and when it was taken (installDump).
	addAddrs []kaddr
	addAt    time.Time
	closed   bool
	running  bool
	vips     map[netip.Addr]*vip // VIPs this process installed and announces
	// homes is the interface each VIP was last installed on, kept until it was removed,
	// so a removal can tell that an address it does not own sits where it put its own.
	homes map[netip.Addr]link
}

// vip is one held VIP.
type vip struct {
	ip      netip.Addr
	link    link
	allowed []string // Address.Interfaces it was installed for
	// expires is when the kernel stops announcing at the earliest: the address's
	// install time + lifetime, in fence mode when the gate's timeout ends. Nothing is
	// announced from then on.
	expires time.Time
	// addrEnds is when the kernel drops the address at the earliest (fence mode).
	addrEnds time.Time
	// until is the Until the address's lifetime was last set for, topUp when Run sets it
	// again so the kernel's whole seconds end closer to until (classic mode; topup.go).
	until  time.Time
	topUp  time.Time
	left   int       // burst announcements still to send
	next   time.Time // when Run sends the next one
	placed time.Time // when its install returned: a dump begun later shows it
}

// New returns an Announcer. It changes nothing on the node but, in fence mode, the fence
// tables, which it replaces (silencing any VIP an earlier process left); call
// Set(ctx, nil) at start-up to sweep VIPs an earlier process left. It fails
// on kernels older than 4.18, which cannot mark vipkeeper's addresses.
func New(cfg Config) (*Announcer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("announce config: %w", err)
	}
	cfg = cfg.withDefaults()
	release := kernelRelease()
	if !atLeast(release, 4, 18) {
		return nil, fmt.Errorf("kernel %q: vipkeeper needs Linux 4.18 or later to mark its addresses (IFA_RT_PRIORITY)", release)
	}
	ns, err := openNS(cfg.NetNS)
	if err != nil {
		return nil, err
	}
	k, err := newKernel(ns)
	if err != nil {
		_ = ns.Close()
		return nil, err
	}
	a := &Announcer{
		cfg: cfg, log: cfg.Logger, mark: newMarker(cfg.Protocol, release), ns: ns, k: k, tx: newWire(ns),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		vips: map[netip.Addr]*vip{}, homes: map[netip.Addr]link{},
	}
	if cfg.Fence {
		if err := a.openFence(); err != nil {
			k.close()
			_ = ns.Close()
			return nil, err
		}
	}
	return a, nil
}

// Add installs d.IP with a lifetime ending at d.Until and announces it. For
// a VIP this Announcer already holds (for the same d.Interfaces) it only
// refreshes the lifetime (in fence mode: the gate). If d.Until is less than a
// second (fence mode: FenceMinLeft) away the VIP is removed and ErrExpired
// returned. If the first announcement fails the address is removed again
// (ErrAnnounce). doc.go lists the error classes.
func (a *Announcer) Add(ctx context.Context, d Address) error {
	ip, err := vipAddr(d.IP)
	if err != nil {
		return fmt.Errorf("add: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("add %s: %w", ip, ErrClosed)
	}
	if v := a.vips[ip]; v != nil && time.Now().Before(v.expires) && slices.Equal(v.allowed, d.Interfaces) {
		return a.refreshLocked(v, d.Until)
	}
	addrs, err := a.installDump(false)
	if err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	err = a.installLocked(ip, d, addrs, true)
	if errors.Is(err, unix.EEXIST) || errors.Is(err, errMoved) { // decide on a fresh dump
		if addrs, err = a.installDump(true); err != nil {
			a.unarmLocked(ip)
			return fmt.Errorf("add %s: %w", ip, err)
		}
		err = a.installLocked(ip, d, addrs, false)
	}
	if err != nil {
		a.unarmLocked(ip)
	}
	return err
}

// installDumpAge is how long Add reuses an address dump for new VIPs: with thousands of
// addresses a dump costs milliseconds, and a node acquiring thousands of VIPs would dump
// once per VIP. A new VIP is created exclusively (NLM_F_EXCL), so an address the dump
// missed on its interface fails the create (EEXIST) and is judged on a fresh dump.
const installDumpAge = 250 * time.Millisecond

// errMoved makes Add look again on a fresh dump: the VIP was last put on another
// interface, and a copy still there must be found to be removed.
var errMoved = errors.New("vip last installed on another interface")

// installDump returns the addresses for Add: a fresh dump when fresh, else one at most
// installDumpAge old. A VIP re-installed where this process last put it (its lifetime ran
// out and the kernel dropped it) is created exclusively on the reused dump like a new one.
func (a *Announcer) installDump(fresh bool) ([]kaddr, error) {
	if !fresh && a.addAddrs != nil && time.Since(a.addAt) < installDumpAge {
		return a.addAddrs, nil
	}
	return a.dumpLocked()
}

// dumpLocked lists the addresses and keeps them, stamped with when the dump began, for
// installDump and presentLocked.
func (a *Announcer) dumpLocked() ([]kaddr, error) {
	start := time.Now()
	addrs, err := a.k.list()
	if err != nil {
		return nil, err
	}
	a.addAddrs, a.addAt = addrs, start
	return addrs, nil
}

// Remove withdraws ip: its address goes first, then its announcements stop.
// Removing a VIP that is not there is not an error; addresses vipkeeper does
// not own are never touched. When ip may still be on the node afterwards
// (a netlink failure, or an address vipkeeper does not recognise as its own
// where it had put ip) the error is a *RemoveError.
func (a *Announcer) Remove(ctx context.Context, ip netip.Addr) error {
	ip = ip.Unmap()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove %s: %w", ip, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("remove %s: %w", ip, ErrClosed)
	}
	return a.removeLocked(ip)
}

// Set makes the owned VIPs exactly desired: owned addresses not desired are
// removed first, then each desired VIP is added or refreshed. Entries whose
// Until is less than a second (fence mode: FenceMinLeft) away count as not desired.
// Set(ctx, nil) is the start-up sweep; in fence mode it also empties the fence's sets. Errors of single VIPs are joined; the others proceed.
// Addresses that may still be on the node are listed by a *RemoveError; if
// the addresses cannot even be listed, the error is ErrKernel and any VIP an
// earlier process held may still be up until its lifetime ends.
func (a *Announcer) Set(ctx context.Context, desired []Address) error {
	want, errs := wanted(desired)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("set: %w", ErrClosed)
	}
	addrs, err := a.k.list()
	if err != nil {
		return fmt.Errorf("set: %w", err)
	}
	werr := a.withdrawUnwantedLocked(want, addrs)
	errs = append(errs, werr)
	if len(want) == 0 {
		errs = append(errs, a.resetFenceLocked(werr))
	}
	for _, ip := range slices.SortedFunc(maps.Keys(want), netip.Addr.Compare) {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("set: %w", err))...)
		}
		errs = append(errs, a.applyLocked(want[ip], addrs))
	}
	return errors.Join(errs...)
}

// Close stops Run, closes the sockets and netlink handles. It leaves the
// VIPs and the fence tables in place (their lifetimes and timeouts run out): withdraw with Set(ctx, nil)
// first for a graceful stop.
func (a *Announcer) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.done)
	a.mu.Unlock()
	a.runs.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.tx.close()
	a.k.close()
	if a.fence != nil {
		a.fence.close() // the tables stay: their elements expire by themselves
	}
	if a.ns.IsOpen() {
		err = errors.Join(err, a.ns.Close())
	}
	return err
}

// wanted indexes desired by IP, keeping the latest Until of duplicates.
func wanted(desired []Address) (map[netip.Addr]Address, []error) {
	want := make(map[netip.Addr]Address, len(desired))
	var errs []error
	for _, d := range desired {
		ip, err := vipAddr(d.IP)
		if err != nil {
			errs = append(errs, fmt.Errorf("set: %w", err))
			continue
		}
		d.IP = ip
		if prev, ok := want[ip]; !ok || d.Until.After(prev.Until) {
			want[ip] = d
		}
	}
	return want, errs
}
