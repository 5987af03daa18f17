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
	return a.linkVia(ip, allowed, addrs, a.k.linkByName, a.k.linkByIndex)
}

// linkVia is linkFor with its interface lookups given.
func (a *Announcer) linkVia(ip netip.Addr, allowed []string, addrs []kaddr,
	byName func(string) (link, error), byIndex func(int) (link, error)) (link, error) {
	if len(allowed) == 0 && a.cfg.Interface != "" {
		allowed = []string{a.cfg.Interface}
	}
	if len(allowed) == 1 && !isPattern(allowed[0]) {
		return byName(allowed[0])
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
	return byIndex(index)
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
	// The controller asks for every VIP on every recompute: answers come from one address
	// dump and interface lookup kept for a second, forgotten at once when a link changes
	// (linkChanged), so each costs a map lookup, not a netlink call and a pass over the
	// thousands of addresses a busy node holds.
	if a.carry == nil || time.Since(a.carry.at) > time.Second {
		addrs, err := a.k.list()
		if err != nil {
			return err
		}
		a.carry = newCarrySnap(addrs, a.mark)
	}
	key := carryKey{ip: ip, allowed: strings.Join(allowed, "\x00")}
	if err, ok := a.carry.res[key]; ok {
		return err
	}
	err := a.canCarryLocked(ip, allowed, a.carry)
	a.carry.res[key] = err
	return err
}

// forgetCarry drops CanCarry's cached answers.
func (a *Announcer) forgetCarry() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.carry = nil
}

// carrySnap is what CanCarryOn answers from: one address dump, indexed.
type carrySnap struct {
	at      time.Time
	nets    []kaddr               // the connected networks (no host addresses)
	v6      map[int]bool          // interfaces with some IPv6 address
	foreign map[netip.Addr][]int  // addresses vipkeeper does not own, by interface
	links   map[string]linkAnswer // interface lookups by name
	indexes map[int]linkAnswer    // and by index
	res     map[carryKey]error
}

type linkAnswer struct {
	l   link
	err error
}

func newCarrySnap(addrs []kaddr, mark marker) *carrySnap {
	s := &carrySnap{at: time.Now(), v6: map[int]bool{}, foreign: map[netip.Addr][]int{},
		links: map[string]linkAnswer{}, indexes: map[int]linkAnswer{}, res: map[carryKey]error{}}
	for _, ka := range addrs {
		ip := ka.prefix.Addr()
		if !isHost(ka.prefix) {
			s.nets = append(s.nets, ka)
		}
		s.v6[ka.index] = s.v6[ka.index] || ip.Is6()
		if !mark.owns(ka) {
			s.foreign[ip] = append(s.foreign[ip], ka.index)
		}
	}
	return s
}

func (a *Announcer) canCarryLocked(ip netip.Addr, allowed []string, s *carrySnap) error {
	byName := func(name string) (link, error) {
		if ans, ok := s.links[name]; ok {
			return ans.l, ans.err
		}
		l, err := a.k.linkByName(name)
		s.links[name] = linkAnswer{l, err}
		return l, err
	}
	byIndex := func(index int) (link, error) {
		if ans, ok := s.indexes[index]; ok {
			return ans.l, ans.err
		}
		l, err := a.k.linkByIndex(index)
		s.indexes[index] = linkAnswer{l, err}
		return l, err
	}
	l, err := a.linkVia(ip, allowed, s.nets, byName, byIndex)
	if err != nil {
		return err
	}
	if !l.up {
		return cannotCarry("interface %s is down or has no carrier: it cannot carry %s", l.name, ip)
	}
	if slices.Contains(s.foreign[ip], l.index) {
		return fmt.Errorf("%w: it cannot carry %s", foreignError(ip, l.name), ip)
	}
	if ip.Is6() && !s.v6[l.index] {
		return cannotCarry("interface %s has no IPv6 address: it cannot carry %s", l.name, ip)
	}
	return nil
}
