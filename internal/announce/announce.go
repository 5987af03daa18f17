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

// Announcer puts VIPs on the node's interfaces and announces them. It is
// safe for concurrent use; calls for different VIPs may overlap.
type Announcer struct {
	cfg  Config
	log  *slog.Logger
	mark marker
	ns   netns.NsHandle
	k    *kernel
	tx   transmitter
	wake chan struct{} // a VIP was added: Run recomputes its timer
	done chan struct{} // closed by Close
	runs sync.WaitGroup

	mu sync.Mutex
	// CanCarry's address dump and when it was taken.
	carryAddrs []kaddr
	carryRes   map[netip.Addr]error
	carryAt    time.Time
	closed     bool
	running    bool
	vips       map[netip.Addr]*vip // VIPs this process installed and announces
}

// vip is one held VIP.
type vip struct {
	ip   netip.Addr
	link link
	// expires is when the kernel drops the address at the earliest (install
	// time + lifetime); nothing is announced from then on.
	expires time.Time
	left    int       // burst announcements still to send
	next    time.Time // when Run sends the next one
}

// New returns an Announcer. It changes nothing on the node; call
// Set(ctx, nil) at start-up to sweep VIPs an earlier process left.
func New(cfg Config) (*Announcer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("announce config: %w", err)
	}
	cfg = cfg.withDefaults()
	ns, err := openNS(cfg.NetNS)
	if err != nil {
		return nil, err
	}
	k, err := newKernel(ns)
	if err != nil {
		_ = ns.Close()
		return nil, err
	}
	return &Announcer{
		cfg:  cfg,
		log:  cfg.Logger,
		mark: marker{proto: cfg.Protocol, protoOK: kernelKeepsProto()},
		ns:   ns,
		k:    k,
		tx:   newWire(ns),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		vips: map[netip.Addr]*vip{},
	}, nil
}

// Add installs d.IP with a lifetime ending at d.Until and announces it. For
// a VIP this Announcer already holds it only refreshes the lifetime. If
// d.Until is less than a second away the VIP is removed and ErrExpired
// returned. If the first announcement fails the address is removed again.
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
	if v := a.vips[ip]; v != nil && time.Now().Before(v.expires) {
		return a.refreshLocked(v, d.Until)
	}
	addrs, err := a.k.list()
	if err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	return a.installLocked(ip, d.Until, addrs)
}

// Remove withdraws ip: its address goes first, then its announcements stop.
// Removing a VIP that is not there is not an error. Addresses vipkeeper
// does not own are never touched.
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
// Until is less than a second away count as not desired. Set(ctx, nil) is
// the start-up sweep. Errors of single VIPs are joined; the others proceed.
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
	errs = append(errs, a.withdrawUnwantedLocked(want, addrs)...)
	for _, ip := range slices.SortedFunc(maps.Keys(want), netip.Addr.Compare) {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, fmt.Errorf("set: %w", err))...)
		}
		errs = append(errs, a.applyLocked(ip, want[ip], addrs))
	}
	return errors.Join(errs...)
}

// Close stops Run, closes the sockets and netlink handles. It leaves the
// VIPs in place (their lifetimes run out): withdraw with Set(ctx, nil)
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
	if a.ns.IsOpen() {
		err = errors.Join(err, a.ns.Close())
	}
	return err
}

// wanted indexes desired by IP, keeping the latest Until of duplicates.
func wanted(desired []Address) (map[netip.Addr]time.Time, []error) {
	want := make(map[netip.Addr]time.Time, len(desired))
	var errs []error
	for _, d := range desired {
		ip, err := vipAddr(d.IP)
		if err != nil {
			errs = append(errs, fmt.Errorf("set: %w", err))
			continue
		}
		if until, ok := want[ip]; !ok || d.Until.After(until) {
			want[ip] = d.Until
		}
	}
	return want, errs
}

func (a *Announcer) withdrawUnwantedLocked(want map[netip.Addr]time.Time, addrs []kaddr) []error {
	var errs []error
	now := time.Now()
	for _, ka := range addrs {
		ip := ka.prefix.Addr()
		if until, ok := want[ip]; (ok && until.Sub(now) >= time.Second) || !a.mark.owns(ka) {
			continue
		}
		if err := a.k.del(ka.index, ip); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from interface #%d: %w", ip, ka.index, err))
		}
		a.log.Info("vip removed", "vip", ip, "iface_index", ka.index, "reason", "not desired")
	}
	for ip := range a.vips {
		if _, ok := want[ip]; !ok {
			delete(a.vips, ip)
		}
	}
	return errs
}

// applyLocked brings one desired VIP into place, moving it if its interface
// changed.
func (a *Announcer) applyLocked(ip netip.Addr, until time.Time, addrs []kaddr) error {
	if _, ok := lifetime(until, time.Now()); !ok {
		delete(a.vips, ip) // its address went in withdrawUnwantedLocked
		return nil
	}
	v := a.vips[ip]
	if v == nil || !time.Now().Before(v.expires) {
		return a.installLocked(ip, until, addrs)
	}
	l, err := a.linkFor(ip, addrs)
	if err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	if l.index != v.link.index || !a.ownedOn(ip, l.index, addrs) {
		return a.installLocked(ip, until, addrs) // moved, or deleted behind our back
	}
	return a.refreshLocked(v, until)
}

// ownedOn reports whether addrs holds ip, owned, on interface index.
func (a *Announcer) ownedOn(ip netip.Addr, index int, addrs []kaddr) bool {
	return slices.ContainsFunc(addrs, func(ka kaddr) bool {
		return ka.index == index && ka.prefix.Addr() == ip && a.mark.owns(ka)
	})
}

// installLocked puts ip on its interface and sends the first announcement;
// if that fails the address is removed again.
func (a *Announcer) installLocked(ip netip.Addr, until time.Time, addrs []kaddr) error {
	l, err := a.linkFor(ip, addrs)
	if err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	if err := a.clearOthersLocked(ip, l, addrs); err != nil {
		return fmt.Errorf("add %s on %s: %w", ip, l.name, err)
	}
	v := &vip{ip: ip, link: l}
	if err := a.replaceLocked(v, until); err != nil {
		return err
	}
	if err := a.sendLocked(v); err != nil {
		delete(a.vips, ip)
		rerr := a.k.del(l.index, ip)
		a.log.Warn("vip rolled back", "vip", ip, "iface", l.name, "err", err)
		return errors.Join(fmt.Errorf("announce %s on %s (address removed again): %w", ip, l.name, err), rerr)
	}
	a.vips[ip] = v
	a.schedule(v, time.Now(), a.cfg.BurstCount)
	a.log.Info("vip added", "vip", ip, "iface", l.name, "until", until)
	return nil
}

func (a *Announcer) refreshLocked(v *vip, until time.Time) error {
	err := a.replaceLocked(v, until)
	if errors.Is(err, unix.ENODEV) {
		delete(a.vips, v.ip) // the interface is gone: the next Add starts over
	}
	if err == nil {
		a.log.Debug("vip refreshed", "vip", v.ip, "iface", v.link.name, "until", until)
	}
	return err
}

// replaceLocked sets v's address with the lifetime left until until,
// computed right before the call so the kernel never holds it longer. A VIP
// with less than a second left is removed instead.
func (a *Announcer) replaceLocked(v *vip, until time.Time) error {
	now := time.Now()
	lft, ok := lifetime(until, now)
	if !ok {
		return errors.Join(fmt.Errorf("add %s: %w", v.ip, ErrExpired), a.removeLocked(v.ip))
	}
	err := a.k.replace(v.link.index, v.ip, a.mark.label(v.link.name), a.mark.proto, lft)
	if err != nil {
		return fmt.Errorf("add %s on %s: %w", v.ip, v.link.name, err)
	}
	v.expires = now.Add(time.Duration(lft) * time.Second)
	return nil
}

// clearOthersLocked fails if a foreign address equals ip and removes owned
// copies of ip on interfaces other than l (a VIP that moved).
func (a *Announcer) clearOthersLocked(ip netip.Addr, l link, addrs []kaddr) error {
	for _, ka := range addrs {
		if ka.prefix.Addr() != ip {
			continue
		}
		if !a.mark.owns(ka) {
			return fmt.Errorf("%s on interface #%d: %w", ka.prefix, ka.index, ErrNotOwned)
		}
		if ka.index == l.index {
			continue
		}
		if err := a.k.del(ka.index, ip); err != nil {
			return fmt.Errorf("remove old copy from interface #%d: %w", ka.index, err)
		}
	}
	return nil
}

func (a *Announcer) removeLocked(ip netip.Addr) error {
	var errs []error
	if v := a.vips[ip]; v != nil {
		if err := a.k.del(v.link.index, ip); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", ip, v.link.name, err))
		}
		delete(a.vips, ip)
		a.log.Info("vip removed", "vip", ip, "iface", v.link.name)
	}
	addrs, err := a.k.list()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("remove %s: %w", ip, err))...)
	}
	for _, ka := range addrs {
		if ka.prefix.Addr() != ip || !a.mark.owns(ka) {
			continue
		}
		if err := a.k.del(ka.index, ip); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from interface #%d: %w", ip, ka.index, err))
		}
	}
	return errors.Join(errs...)
}

// linkFor picks the interface for ip: the configured one, else the one whose
// connected network covers ip.
func (a *Announcer) linkFor(ip netip.Addr, addrs []kaddr) (link, error) {
	if a.cfg.Interface != "" {
		return a.k.linkByName(a.cfg.Interface)
	}
	index, ok := coveringLink(ip, addrs)
	if !ok {
		return link{}, noInterfaceError{ip: ip}
	}
	return a.k.linkByIndex(index)
}

// CanCarry reports whether this node can put ip on an interface: a configured interface
// must exist and, for IPv6, have IPv6 enabled (some IPv6 address, link-local counts); without
// one, a connected network must cover ip. Either way the interface must be up with carrier:
// a pulled cable makes the node ineligible, so another node takes the VIP at once instead
// of leaving it dark. The controller uses it to refuse eligibility (not
// the VIP) on nodes that cannot serve it.
func (a *Announcer) CanCarry(ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	// The controller asks for every VIP on every recompute: answers are kept for a second,
	// and forgotten at once when a link changes (linkChanged).
	if time.Since(a.carryAt) > time.Second {
		addrs, err := a.k.list()
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		a.carryAddrs, a.carryAt, a.carryRes = addrs, time.Now(), map[netip.Addr]error{}
	}
	if err, ok := a.carryRes[ip]; ok {
		return err
	}
	err := a.canCarryLocked(ip, a.carryAddrs)
	a.carryRes[ip] = err
	return err
}

// forgetCarry drops CanCarry's cached answers.
func (a *Announcer) forgetCarry() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.carryAt = time.Time{}
}

func (a *Announcer) canCarryLocked(ip netip.Addr, addrs []kaddr) error {
	l, err := a.linkFor(ip, addrs)
	if err != nil {
		return err
	}
	if !l.up {
		return fmt.Errorf("interface %s is down or has no carrier: it cannot carry %s", l.name, ip)
	}
	if !ip.Unmap().Is6() {
		return nil
	}
	for _, ka := range addrs {
		if ka.index == l.index && ka.prefix.Addr().Is6() {
			return nil
		}
	}
	return fmt.Errorf("interface %s has no IPv6 address: it cannot carry %s", l.name, ip)
}
