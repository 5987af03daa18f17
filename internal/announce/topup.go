package announce

import (
	"errors"
	"time"
)

// Kernel lifetimes count whole seconds, rounded down from Until, so an address set at a
// moment that is not a whole number of seconds before Until ends up to a second early (and
// an Install right after a renewal is set just under a whole number of seconds before it: a
// second is lost nearly every time). While the caller keeps moving Until (a held VIP's
// refreshes, due RefreshAhead plus a second before the lifetime asked for ends) that second
// never shows. When Until stops moving (renewals stall while the fence still stands) the
// kernel would drop the address before the process's own fence, and the VIP would go dark
// while its holder still holds it. So Run tops the lifetime up once, topUpLead more than a
// second before Until: the kernel's lifetime then ends topUpLead before Until, never after.
// A refresh that comes first makes the top-up unneeded, so it costs a call only in a stall.

// topUpLead is how long more than a second before Until the top-up runs. It is both what the
// topped-up lifetime falls short of Until and, for a lifetime that fell almost a second
// short, how long before that lifetime ends the top-up runs: a timer up to topUpLead - 20 ms
// late (the kernel counts an address expired up to 20 ms early) still finds it in place.
const topUpLead = 200 * time.Millisecond

// topUpAt is when a lifetime ending at expires, less than a second before until, is topped
// up so it ends topUpLead before until; zero when it already ends no earlier than that.
func topUpAt(until, expires time.Time) time.Time {
	if until.Sub(expires) <= topUpLead {
		return time.Time{}
	}
	return until.Add(-time.Second - topUpLead)
}

// topUpDueLocked tops up the lifetime of every VIP whose top-up is due, in classic mode
// (the fence's gate has millisecond precision). A top-up that would not lengthen the
// lifetime (its timer ran late) is dropped; one that fails leaves the address as it was,
// unless the address was removed (ErrExpired, ErrCannotCarry), and then the VIP is
// forgotten so the next Add installs it afresh.
func (a *Announcer) topUpDueLocked(now time.Time) {
	if a.fence != nil {
		return
	}
	for ip, v := range a.vips {
		if v.topUp.IsZero() || now.Before(v.topUp) || !now.Before(v.expires) {
			continue
		}
		v.topUp = time.Time{}
		lft, ok := lifetime(v.until, now)
		if !ok || !now.Add(time.Duration(lft)*time.Second).After(v.expires) {
			continue
		}
		err := a.replaceLocked(v, v.until)
		switch {
		case errors.Is(err, ErrExpired) || errors.Is(err, ErrCannotCarry):
			delete(a.vips, ip)
			a.log.Warn("vip lifetime top-up removed the address", "vip", ip, "iface", v.link.name, "err", err)
		case err != nil:
			a.log.Warn("vip lifetime top-up failed; the address keeps its shorter lifetime", "vip", ip, "iface", v.link.name, "err", err)
		default:
			a.log.Debug("vip lifetime topped up", "vip", ip, "iface", v.link.name, "until", v.until, "expires", v.expires)
		}
	}
}
