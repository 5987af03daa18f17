package announce

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"
)

// carryKey is one CanCarryOn question.
type carryKey struct {
	ip      netip.Addr
	allowed string // the allowed names and patterns, joined
}

// linkFor picks the interface for ip. allowed (Address.Interfaces) overrides
// Config.Interface: one plain name is used as it is; several names, or
// patterns, allow the matching interfaces, of which the one whose connected
// network covers ip is chosen. Without allowed: Config.Interface, else the
// interface whose connected network covers ip.
func (a *Announcer) linkFor(ip netip.Addr, allowed []string, addrs []kaddr) (link, error) {
	if len(allowed) == 0 && a.cfg.Interface != "" {
		allowed = []string{a.cfg.Interface}
	}
	if len(allowed) == 1 && !isPattern(allowed[0]) {
		return a.k.linkByName(allowed[0])
	}
	match := func(int) bool { return true }
	if len(allowed) > 0 {
		if err := checkPatterns(allowed); err != nil {
			return link{}, err
		}
		names, err := a.namesByIndex()
		if err != nil {
			return link{}, err
		}
		match = func(index int) bool { return matchesAny(names[index], allowed) }
	}
	index, ok := coveringLink(ip, addrs, match)
	if !ok {
		return link{}, noInterfaceError{ip: ip, allowed: allowed}
	}
	return a.k.linkByIndex(index)
}

func (a *Announcer) namesByIndex() (map[int]string, error) {
	links, err := a.k.links()
	if err != nil {
		return nil, err
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.index] = l.name
	}
	return names, nil
}

// isPattern reports whether s uses path.Match's special characters.
func isPattern(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func checkPatterns(allowed []string) error {
	for _, p := range allowed {
		if _, err := path.Match(p, ""); err != nil {
			return cannotCarry("interface pattern %q: %v", p, err)
		}
	}
	return nil
}

func matchesAny(name string, allowed []string) bool {
	return slices.ContainsFunc(allowed, func(p string) bool {
		ok, _ := path.Match(p, name)
		return ok
	})
}

// coveringLink returns the interface whose connected network (the prefix of
// an address it holds) contains ip, among those match accepts: the most
// specific one, then the lowest index. Host addresses connect nothing and
// are ignored.
func coveringLink(ip netip.Addr, addrs []kaddr, match func(index int) bool) (index int, ok bool) {
	bits := -1
	for _, a := range addrs {
		if isHost(a.prefix) || !a.prefix.Masked().Contains(ip) || !match(a.index) {
			continue
		}
		b := a.prefix.Bits()
		if b > bits || (b == bits && a.index < index) {
			index, bits = a.index, b
		}
	}
	return index, bits >= 0
}

// CanCarry is CanCarryOn(ip, nil): the interface Config.Interface names, or the covering one.
func (a *Announcer) CanCarry(ip netip.Addr) error { return a.CanCarryOn(ip, nil) }

// CanCarryOn reports whether this node can put ip on an interface chosen as Add would for
// an Address with Interfaces allowed: a configured interface must exist and, for IPv6, have
// IPv6 enabled (some IPv6 address, link-local counts); without one, a connected network
// must cover ip. Either way the interface must be up with carrier (a pulled cable makes the
// node ineligible, so another node takes the VIP at once instead of leaving it dark), and
// hold no copy of ip that vipkeeper does not own (ErrForeign). The controller uses it to
// refuse this node's eligibility (not the VIP) where it cannot serve it. Errors are
// ErrCannotCarry or ErrForeign, or ErrKernel when the addresses cannot be listed.
func (a *Announcer) CanCarryOn(ip netip.Addr, allowed []string) error {
	ip = ip.Unmap()
	a.mu.Lock()
	defer a.mu.Unlock()
	// The controller asks for every VIP on every recompute: answers are kept for a second,
	// and forgotten at once when a link changes (linkChanged).
	if time.Since(a.carryAt) > time.Second {
		addrs, err := a.k.list()
		if err != nil {
			return err
		}
		a.carryAddrs, a.carryAt, a.carryRes = addrs, time.Now(), map[carryKey]error{}
	}
	key := carryKey{ip: ip, allowed: strings.Join(allowed, "\x00")}
	if err, ok := a.carryRes[key]; ok {
		return err
	}
	err := a.canCarryLocked(ip, allowed, a.carryAddrs)
	a.carryRes[key] = err
	return err
}

// forgetCarry drops CanCarry's cached answers.
func (a *Announcer) forgetCarry() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.carryAt = time.Time{}
}

func (a *Announcer) canCarryLocked(ip netip.Addr, allowed []string, addrs []kaddr) error {
	l, err := a.linkFor(ip, allowed, addrs)
	if err != nil {
		return err
	}
	if !l.up {
		return cannotCarry("interface %s is down or has no carrier: it cannot carry %s", l.name, ip)
	}
	hasV6 := false
	for _, ka := range addrs {
		if ka.index != l.index {
			continue
		}
		if ka.prefix.Addr() == ip && !a.mark.owns(ka) {
			return fmt.Errorf("%w: it cannot carry %s", foreignError(ip, l.name), ip)
		}
		hasV6 = hasV6 || ka.prefix.Addr().Is6()
	}
	if ip.Is6() && !hasV6 {
		return cannotCarry("interface %s has no IPv6 address: it cannot carry %s", l.name, ip)
	}
	return nil
}
