// Package announcetest provides an in-memory stand-in for announce.Announcer
// for other packages' deterministic tests (synctest bubbles included).
//
// It models the kernel's fencing: a VIP added with Until gets a lifetime
// of floor(Until-now) whole seconds and disappears by itself when that runs
// out; with less than a second left Add removes it and returns
// announce.ErrExpired. With Config.Fence it models the real Announcer's fence
// mode instead: the VIP is held until Until (whole milliseconds), and less than
// announce.FenceMinLeft left is ErrExpired. It sends nothing and touches no
// kernel state.
package announcetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/announce"
)

// Config configures a Fake. The zero value is valid.
type Config struct {
	// Interface is printed as the VIPs' device; default "eth0".
	Interface string
	// Now is the clock; default time.Now (the synctest clock in a bubble).
	Now func() time.Time
	// Fail, if set, is asked before each Add ("add") and Remove ("remove");
	// a non-nil error fails the call and leaves the state unchanged, like the
	// real Announcer's rollback.
	Fail func(op string, ip netip.Addr) error
	// Fence models announce.Config.Fence: millisecond deadlines, announce.FenceMinLeft.
	Fence bool
}

// Fake is an in-memory Announcer, safe for concurrent use.
type Fake struct {
	cfg Config

	mu      sync.Mutex
	expires map[netip.Addr]time.Time
}

// New returns an empty Fake.
func New(cfg Config) *Fake {
	if cfg.Interface == "" {
		cfg.Interface = "eth0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Fake{cfg: cfg, expires: map[netip.Addr]time.Time{}}
}

// Add installs or refreshes d.IP.
func (f *Fake) Add(ctx context.Context, d announce.Address) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ip := d.IP.Unmap()
	if err := f.fail("add", ip); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addLocked(ip, d.Until)
}

func (f *Fake) addLocked(ip netip.Addr, until time.Time) error {
	if !ip.IsValid() || !ip.IsGlobalUnicast() {
		return fmt.Errorf("add: vip %s: %w", ip, announce.ErrInvalidVIP)
	}
	now := f.cfg.Now()
	unit, least := time.Second, time.Second
	if f.cfg.Fence {
		unit, least = time.Millisecond, announce.FenceMinLeft
	}
	left := until.Sub(now).Truncate(unit)
	if left < least {
		delete(f.expires, ip)
		return fmt.Errorf("add %s: %w", ip, announce.ErrExpired)
	}
	f.expires[ip] = now.Add(left)
	return nil
}

// Remove withdraws ip; removing an absent VIP is not an error.
func (f *Fake) Remove(ctx context.Context, ip netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ip = ip.Unmap()
	if err := f.fail("remove", ip); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.expires, ip)
	return nil
}

// Set makes the held VIPs exactly desired; entries with less than a second
// (Fence: announce.FenceMinLeft) left count as not desired.
func (f *Fake) Set(ctx context.Context, desired []announce.Address) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.expires)
	var errs []error
	for _, d := range desired {
		ip := d.IP.Unmap()
		if prev, ok := f.expires[ip]; ok && !d.Until.After(prev) {
			continue
		}
		if err := f.addLocked(ip, d.Until); err != nil && !errors.Is(err, announce.ErrExpired) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run blocks until ctx ends, like the real Announcer's Run.
func (f *Fake) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close does nothing; VIPs stay until they expire, as with the real one.
func (f *Fake) Close() error { return nil }

// Holds reports whether ip is on the (fake) interface now.
func (f *Fake) Holds(ip netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	exp, ok := f.expires[ip.Unmap()]
	return ok && f.cfg.Now().Before(exp)
}

// String lists the VIPs held now, one per line, sorted:
// "198.51.100.7/32 dev eth0 until +10s".
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	var ips []netip.Addr
	for ip, exp := range f.expires {
		if now.Before(exp) {
			ips = append(ips, ip)
		}
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	lines := make([]string, 0, len(ips))
	for _, ip := range ips {
		lines = append(lines, fmt.Sprintf("%s dev %s until +%s",
			netip.PrefixFrom(ip, ip.BitLen()), f.cfg.Interface, f.expires[ip].Sub(now)))
	}
	return strings.Join(lines, "\n")
}

// SetFail replaces Config.Fail while the Fake is in use.
func (f *Fake) SetFail(fail func(op string, ip netip.Addr) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg.Fail = fail
}

func (f *Fake) fail(op string, ip netip.Addr) error {
	f.mu.Lock()
	failFn := f.cfg.Fail
	f.mu.Unlock()
	if failFn == nil {
		return nil
	}
	if err := failFn(op, ip); err != nil {
		return fmt.Errorf("%s %s on %s: %w", op, ip, f.cfg.Interface, err)
	}
	return nil
}
