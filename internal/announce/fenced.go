package announce

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// fenceMargin is taken off every gate timeout before it is rounded down to milliseconds:
// the kernel counts the timeout from when it handles the batch, some time after the
// timeout was computed. A call slower than the margin is retried (armLocked).
const fenceMargin = time.Millisecond

// rebuildMargin is taken off the other VIPs' timeouts when the tables are recreated
// (rebuildFenceLocked): that batch holds the tables and every held VIP.
const rebuildMargin = 20 * time.Millisecond

// openFence installs the fence tables. Owned addresses already on the node (an earlier
// process's VIPs, until the start-up sweep removes them) go into the vips sets without a
// live element, so the kernel answers for none of them from here on.
func (a *Announcer) openFence() error {
	addrs, err := a.k.list()
	if err != nil {
		return fmt.Errorf("fence %s: %w", a.cfg.FenceTable, err)
	}
	var seed []netip.Addr
	for _, ka := range addrs {
		if a.mark.owns(ka) {
			seed = append(seed, ka.prefix.Addr())
		}
	}
	f, err := newFence(a.ns, a.cfg.FenceTable, seed)
	if err != nil {
		return kernelErr("fence", err)
	}
	a.fence = f
	a.log.Info("fence tables ready", "table", a.cfg.FenceTable, "silenced", len(seed))
	return nil
}

// minLeft is the least time before Until with which a VIP is still installed.
func (a *Announcer) minLeft() time.Duration {
	if a.fence != nil {
		return FenceMinLeft
	}
	return time.Second
}

// armLocked opens v's gate until at most until: the live element's timeout is until - now
// less fenceMargin, rounded down to milliseconds, computed right before the batch. The
// kernel starts counting when it handles the batch, before the call returns; so when the
// call returns too late for the timeout it carried, the element is sent again with a larger
// margin. With less than FenceMinLeft, or after lifetimeTries slow calls, the VIP is removed
// and ErrExpired returned. v.expires becomes when the gate closes at the earliest.
func (a *Announcer) armLocked(v *vip, until time.Time) error {
	margin := fenceMargin
	for range lifetimeTries {
		start := time.Now()
		t := (until.Sub(start) - margin).Truncate(time.Millisecond)
		if t < FenceMinLeft {
			return errors.Join(fmt.Errorf("add %s: %w", v.ip, ErrExpired), a.removeLocked(v.ip))
		}
		err := a.fence.arm([]fenceElem{{ip: v.ip, timeout: t}})
		if errors.Is(err, unix.ENOENT) {
			err = a.rebuildFenceLocked(fenceElem{ip: v.ip, timeout: t})
		}
		if err != nil {
			return kernelErr(fmt.Sprintf("add %s: arm fence %s", v.ip, a.cfg.FenceTable), err)
		}
		done := time.Now()
		v.expires = start.Add(t)
		if !done.Add(t).After(until) {
			return nil
		}
		margin += 2 * done.Sub(start)
		a.log.Warn("nftables call returned too late for the timeout it set; shortening it",
			"vip", v.ip, "table", a.cfg.FenceTable, "call", done.Sub(start), "timeout", t)
	}
	err := fmt.Errorf("add %s: nftables calls too slow to close fence %s by the deadline: %w",
		v.ip, a.cfg.FenceTable, ErrExpired)
	return errors.Join(err, a.removeLocked(v.ip))
}

// rebuildFenceLocked recreates the fence tables after someone deleted them (nft flush
// ruleset; until then the kernel answered for every VIP ungated, within the addresses'
// lifetimes): owned addresses go into the vips sets, and every held VIP's gate is opened
// again for what is left of its timeout, together with elem.
func (a *Announcer) rebuildFenceLocked(elem fenceElem) error {
	addrs, err := a.k.list()
	if err != nil {
		return err
	}
	var seed []netip.Addr
	for _, ka := range addrs {
		if a.mark.owns(ka) {
			seed = append(seed, ka.prefix.Addr())
		}
	}
	elems := []fenceElem{elem}
	now := time.Now()
	for ip, v := range a.vips {
		if left := v.expires.Sub(now) - rebuildMargin; ip != elem.ip && left >= FenceMinLeft {
			elems = append(elems, fenceElem{ip: ip, timeout: left.Truncate(time.Millisecond)})
		}
	}
	a.log.Warn("fence tables were deleted; recreating them", "table", a.cfg.FenceTable, "armed", len(elems))
	err = a.fence.rebuild(seed, elems)
	if took := time.Since(now); err == nil && took > rebuildMargin {
		a.log.Warn("recreating the fence took longer than its margin: other vips' gates may close that much late",
			"table", a.cfg.FenceTable, "took", took)
	}
	return err
}

// placeLocked sets v's address in fence mode: its lifetime reaches AddrSlack past until,
// rounded up to whole seconds, so the address outlives the gate and is re-sent rarely; it
// is not what stops the announcing. v.addrEnds becomes when the kernel drops it at the
// earliest.
func (a *Announcer) placeLocked(v *vip, until time.Time, exclusive bool) error {
	start := time.Now()
	secs := math.Ceil(until.Add(a.cfg.AddrSlack).Sub(start).Seconds())
	lft := uint32(min(max(secs, 1), math.MaxUint32-1))
	spec := addrSpec{index: v.link.index, ip: v.ip, label: a.mark.label(v.link.name),
		proto: a.mark.proto, metric: a.mark.metric, lft: lft, exclusive: exclusive}
	if err := a.k.replace(spec); err != nil {
		if exclusive && errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add %s on %s: %w", v.ip, v.link.name, err)
		}
		return kernelErr(fmt.Sprintf("add %s on %s", v.ip, v.link.name), err)
	}
	v.addrEnds = start.Add(time.Duration(lft) * time.Second)
	return nil
}

// refreshFencedLocked extends a held VIP's gate to until: normally one nftables batch.
// The address is re-sent only when it would end less than AddrSlack/2 after until.
func (a *Announcer) refreshFencedLocked(v *vip, until time.Time) error {
	if err := a.armLocked(v, until); err != nil {
		return err
	}
	if !v.addrEnds.Before(until.Add(a.cfg.AddrSlack / 2)) {
		return nil
	}
	return a.placeLocked(v, until, false)
}

// unarmLocked closes ip's gate after an install that failed: ip also leaves the vips set
// unless an owned address of ip may be on the node (a.homes), which must stay silent.
func (a *Announcer) unarmLocked(ip netip.Addr) {
	if a.fence == nil || a.vips[ip] != nil {
		return
	}
	if err := a.fence.disarm([]netip.Addr{ip}); err != nil {
		a.log.Warn("cannot close the fence after a failed install; it closes at its timeout",
			"vip", ip, "table", a.cfg.FenceTable, "err", err)
		return
	}
	if _, placed := a.homes[ip]; !placed {
		a.forgetLocked(ip)
	}
}

// disarmLocked closes ip's gate before its address goes. A failure is logged: deleting
// the address stops the answers too, and the gate closes at its timeout anyway.
func (a *Announcer) disarmLocked(ip netip.Addr) {
	if a.fence == nil {
		return
	}
	if err := a.fence.disarm([]netip.Addr{ip}); err != nil {
		a.log.Warn("cannot close the fence; it closes at its timeout", "vip", ip, "table", a.cfg.FenceTable, "err", err)
	}
}

// forgetLocked takes ip out of the vips set once no owned address of ip is left. A
// failure is logged: the stale element gates an address the node no longer has.
func (a *Announcer) forgetLocked(ip netip.Addr) {
	if a.fence == nil {
		return
	}
	if err := a.fence.forget([]netip.Addr{ip}); err != nil {
		a.log.Warn("cannot take the vip out of the fence", "vip", ip, "table", a.cfg.FenceTable, "err", err)
	}
}

// resetFenceLocked empties the fence after the start-up sweep; left (addresses the sweep
// could not remove) stay in the vips sets, silent.
func (a *Announcer) resetFenceLocked(sweepErr error) error {
	if a.fence == nil {
		return nil
	}
	var left []netip.Addr
	if re, ok := errors.AsType[*RemoveError](sweepErr); ok {
		left = re.Left
	}
	if err := a.fence.reset(left); err != nil {
		return kernelErr(fmt.Sprintf("set: flush fence %s", a.cfg.FenceTable), err)
	}
	return nil
}
