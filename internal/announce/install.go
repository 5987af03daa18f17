package announce

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// lifetimeTries bounds how often replaceLocked sends an address whose netlink call returned
// too late for the lifetime it carried, before it removes the address instead.
const lifetimeTries = 3

// installLocked puts ip on its interface and sends the first announcement;
// if that fails the address is removed again. With exclusive, the address is created only
// if the interface does not have it yet (EEXIST otherwise), and a VIP last put on another
// interface fails with errMoved: Add looks again on a fresh dump for both.
func (a *Announcer) installLocked(ip netip.Addr, d Address, addrs []kaddr, exclusive bool) error {
	l, err := a.linkFor(ip, d.Interfaces, addrs)
	if err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	if !l.up {
		return fmt.Errorf("add %s: %w", ip, cannotCarry("interface %s is down or has no carrier", l.name))
	}
	if home, ok := a.homes[ip]; ok && exclusive && home.index != l.index {
		return fmt.Errorf("add %s on %s: %w", ip, l.name, errMoved)
	}
	if err := a.clearOthersLocked(ip, l, addrs); err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	v := &vip{ip: ip, link: l, allowed: slices.Clone(d.Interfaces)}
	if a.fence != nil { // the gate first: an address in no vips set would be answered unfenced
		if err := a.armLocked(v, d.Until); err != nil {
			return err
		}
	}
	if err := a.setLifetimeLocked(v, d.Until, exclusive); err != nil {
		if exclusive && errors.Is(err, unix.EEXIST) {
			return err
		}
		a.homes[ip] = l
		a.unarmLocked(ip)
		return err
	}
	a.homes[ip] = l
	if err := a.sendLocked(v); err != nil {
		rerr := a.removeLocked(ip)
		a.log.Warn("vip rolled back", "vip", ip, "iface", l.name, "err", err)
		return errors.Join(&classified{msg: fmt.Sprintf("announce %s on %s (address removed again)", ip, l.name),
			cause: err, class: ErrAnnounce}, rerr)
	}
	v.placed = time.Now()
	a.vips[ip] = v
	a.schedule(v, v.placed, a.cfg.BurstCount)
	a.log.Info("vip added", "vip", ip, "iface", l.name, "until", d.Until)
	return nil
}

func (a *Announcer) refreshLocked(v *vip, until time.Time) error {
	var err error
	if a.fence != nil {
		err = a.refreshFencedLocked(v, until)
	} else {
		err = a.replaceLocked(v, until)
	}
	if errors.Is(err, ErrCannotCarry) {
		delete(a.vips, v.ip) // the interface is gone: the next Add starts over
	}
	if err == nil {
		a.log.Debug("vip refreshed", "vip", v.ip, "iface", v.link.name, "until", until)
	}
	return err
}

// replaceLocked sets v's address with a lifetime that makes the kernel drop it no later
// than until. The lifetime is computed right before the netlink call, but the kernel starts
// counting only when it handles the request (after taking RTNL, which others may hold): when
// the call returns too late for the lifetime it carried, the address is sent again with the
// shorter lifetime now left. With less than a second left, or after lifetimeTries slow
// calls, the address is removed instead and ErrExpired returned.
func (a *Announcer) replaceLocked(v *vip, until time.Time) error {
	return a.setLifetimeLocked(v, until, false)
}

// setLifetimeLocked is replaceLocked whose first call, with exclusive, only creates. In
// fence mode the gate ends the announcing and placeLocked sets the address.
func (a *Announcer) setLifetimeLocked(v *vip, until time.Time, exclusive bool) error {
	if a.fence != nil {
		return a.placeLocked(v, until, exclusive)
	}
	for try := range lifetimeTries {
		start := time.Now()
		lft, ok := lifetime(until, start)
		if !ok {
			return errors.Join(fmt.Errorf("add %s: %w", v.ip, ErrExpired), a.removeLocked(v.ip))
		}
		spec := addrSpec{index: v.link.index, ip: v.ip, label: a.mark.label(v.link.name),
			proto: a.mark.proto, metric: a.mark.metric, lft: lft, exclusive: exclusive && try == 0}
		if err := a.k.replace(spec); err != nil {
			if spec.exclusive && errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("add %s on %s: %w", v.ip, v.link.name, err)
			}
			return kernelErr(fmt.Sprintf("add %s on %s", v.ip, v.link.name), err)
		}
		life := time.Duration(lft) * time.Second
		v.expires = start.Add(life)
		done := time.Now()
		if !done.Add(life).After(until) {
			v.until, v.topUp = until, topUpAt(until, v.expires)
			if !v.topUp.IsZero() {
				a.poke()
			}
			return nil
		}
		a.log.Warn("netlink call returned too late for the lifetime it set; shortening it",
			"vip", v.ip, "iface", v.link.name, "call", done.Sub(start), "lifetime", life)
	}
	err := fmt.Errorf("add %s on %s: netlink calls too slow to end the lifetime by the deadline: %w",
		v.ip, v.link.name, ErrExpired)
	return errors.Join(err, a.removeLocked(v.ip))
}

// clearOthersLocked fails with ErrForeign if an address vipkeeper does not own equals ip
// on l, and removes owned copies of ip on other interfaces (a VIP that moved). A foreign
// copy on another interface (kube-proxy's kube-ipvs0, any dummy) does not block: the
// kernel keeps that address and its local route when ours goes.
func (a *Announcer) clearOthersLocked(ip netip.Addr, l link, addrs []kaddr) error {
	for _, ka := range addrs {
		if ka.prefix.Addr() != ip {
			continue
		}
		owned := a.mark.owns(ka)
		switch {
		case !owned && ka.index == l.index:
			return foreignError(ip, l.name)
		case !owned || ka.index == l.index:
			continue
		}
		if err := a.k.del(ka.index, ip); err != nil {
			return kernelErr(fmt.Sprintf("remove old copy from interface #%d", ka.index), err)
		}
	}
	return nil
}

// removeLocked withdraws ip after a fresh address dump; see Remove.
func (a *Announcer) removeLocked(ip netip.Addr) error {
	addrs, err := a.k.list()
	if err != nil {
		return removeError([]netip.Addr{ip}, []error{fmt.Errorf("remove %s: %w", ip, err)})
	}
	if err := a.withdrawLocked(ip, addrs); err != nil {
		return removeError([]netip.Addr{ip}, []error{err})
	}
	return nil
}

// withdrawLocked deletes every owned copy of ip in addrs and forgets ip. A copy it does not
// own on the interface where this process put ip is reported as ErrForeign: the node still
// answers for ip, and vipkeeper may not delete it. On error ip stays remembered, so a retry
// reports the same.
func (a *Announcer) withdrawLocked(ip netip.Addr, addrs []kaddr) error {
	delete(a.vips, ip)
	a.disarmLocked(ip) // the gate first: the kernel stops answering at once
	home, placed := a.homes[ip]
	var errs []error
	for _, ka := range addrs {
		if ka.prefix.Addr() != ip {
			continue
		}
		if !a.mark.owns(ka) {
			if placed && ka.index == home.index {
				errs = append(errs, foreignError(ip, home.name))
			}
			continue
		}
		if err := a.k.del(ka.index, ip); err != nil {
			errs = append(errs, kernelErr(fmt.Sprintf("remove %s from interface #%d", ip, ka.index), err))
			continue
		}
		a.log.Info("vip removed", "vip", ip, "iface_index", ka.index)
	}
	if len(errs) > 0 {
		return errors.Join(errs...) // ip stays in the vips set: what is left stays silent
	}
	delete(a.homes, ip)
	a.forgetLocked(ip)
	return nil
}

// withdrawUnwantedLocked removes every VIP that is owned, held or remembered and not
// wanted (or wanted with less than a second left); it returns a *RemoveError for those
// that may remain.
func (a *Announcer) withdrawUnwantedLocked(want map[netip.Addr]Address, addrs []kaddr) error {
	now := time.Now()
	drop := map[netip.Addr]bool{}
	for _, ka := range addrs {
		if a.mark.owns(ka) {
			drop[ka.prefix.Addr()] = true
		}
	}
	for ip := range a.vips {
		drop[ip] = true
	}
	for ip := range a.homes {
		drop[ip] = true
	}
	var left []netip.Addr
	var errs []error
	for _, ip := range slices.SortedFunc(maps.Keys(drop), netip.Addr.Compare) {
		if d, ok := want[ip]; ok && d.Until.Sub(now) >= a.minLeft() {
			continue
		}
		if err := a.withdrawLocked(ip, addrs); err != nil {
			left = append(left, ip)
			errs = append(errs, err)
		}
	}
	return removeError(left, errs)
}

// applyLocked brings one desired VIP into place, moving it if its interface
// changed.
func (a *Announcer) applyLocked(d Address, addrs []kaddr) error {
	ip := d.IP
	if d.Until.Sub(time.Now()) < a.minLeft() {
		return nil // withdrawn by withdrawUnwantedLocked
	}
	v := a.vips[ip]
	if v == nil || !time.Now().Before(v.expires) {
		return a.installLocked(ip, d, addrs, false)
	}
	l, err := a.linkFor(ip, d.Interfaces, addrs)
	if err != nil {
		return fmt.Errorf("add %s: %w", ip, err)
	}
	if l.index != v.link.index || !a.ownedOn(ip, l.index, addrs) {
		return a.installLocked(ip, d, addrs, false) // moved, or deleted behind our back
	}
	return a.refreshLocked(v, d.Until)
}

// ownedOn reports whether addrs holds ip, owned, on interface index.
func (a *Announcer) ownedOn(ip netip.Addr, index int, addrs []kaddr) bool {
	return slices.ContainsFunc(addrs, func(ka kaddr) bool {
		return ka.index == index && ka.prefix.Addr() == ip && a.mark.owns(ka)
	})
}
