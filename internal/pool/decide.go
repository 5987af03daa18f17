package pool

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Decide computes, from listed objects only, the allocator's annotation for every Service
// of our class, each pool's status, and the problems to report. It is pure: the same
// Input always gives the same Output, and no input panics it.
//
// Services are visited oldest first (creationTimestamp, then namespace/name). A Service
// that asks for IPs (annotation or spec.loadBalancerIP) claims them; one that asks for
// none keeps the allocated IPs it has unless an older Service owns one without valid
// sharing, then gets the lowest free address of each missing family from the first
// matching pool by priority and name, or joins the IP of its sharing group.
func Decide(in Input) Output {
	s := newState(in)
	served, stale := split(in.Services, in.Class)
	s.markUsed(served, stale)
	for _, svc := range served {
		s.decide(svc)
	}
	for _, svc := range stale {
		s.release(svc, fmt.Sprintf("the Service is no longer a LoadBalancer of class %q", in.Class.Served()))
	}
	return s.output()
}

// state is the working set of one Decide call.
type state struct {
	in       Input
	pools    []*poolState // by name
	byName   map[string]*poolState
	used     map[netip.Addr]bool              // every IP in use, reserved or given out in this call
	stale    map[netip.Addr]bool              // IPs that Services leaving our class still carry
	owners   map[netip.Addr][]*corev1.Service // who keeps each IP, oldest first
	holders  map[netip.Addr][]*corev1.Service // served Services carrying each IP on input
	groups   map[groupKey][]netip.Addr        // IPs owned or held per (namespace, sharing key)
	shrunk   map[string][]string              // pool -> "ns/name (ip)" kept outside its entries
	out      []Assignment
	problems []Problem
}

type groupKey struct{ namespace, key string }

func newState(in Input) *state {
	s := &state{in: in, pools: preparePools(in.Pools), byName: map[string]*poolState{},
		used: map[netip.Addr]bool{}, stale: map[netip.Addr]bool{}, owners: map[netip.Addr][]*corev1.Service{}, holders: map[netip.Addr][]*corev1.Service{},
		groups: map[groupKey][]netip.Addr{}, shrunk: map[string][]string{}}
	for _, p := range s.pools {
		s.byName[p.Name] = p
	}
	return s
}

// split returns the Services of our class (oldest first) and the others that still carry
// the allocator's annotations. Services being deleted are neither.
func split(svcs []*corev1.Service, class Class) (served, stale []*corev1.Service) {
	for _, svc := range svcs {
		switch {
		case svc == nil || svc.DeletionTimestamp != nil:
		case class.Serves(svc):
			served = append(served, svc)
		case hasOurs(svc):
			stale = append(stale, svc)
		}
	}
	slices.SortFunc(served, olderFirst)
	slices.SortFunc(stale, olderFirst)
	return served, stale
}

func hasOurs(svc *corev1.Service) bool {
	return svc.Annotations[AnnotationAllocatedIPs] != "" || svc.Annotations[AnnotationAllocatedPools] != ""
}

// markUsed marks every IP a Service requests or carries in our annotation before
// anything is decided, so that no fresh allocation hands out an IP that a younger Service
// holds or one still being released: an IP is free only once no Service names it. The
// status IPs a Service may adopt are reserved too, so that an older Service without
// them does not take them first. It also records who holds each IP as the controller
// sees it (requested, else allocated).
func (s *state) markUsed(served, stale []*corev1.Service) {
	for i, svc := range slices.Concat(served, stale) {
		req, asks := requested(svc)
		have, _ := parseIPs(svc.Annotations[AnnotationAllocatedIPs])
		for _, ip := range slices.Concat(req, have) {
			s.used[ip] = true
			s.stale[ip] = s.stale[ip] || i >= len(served)
		}
		if i >= len(served) {
			continue
		}
		for _, ip := range svcrules.AdoptableIPs(svc) {
			s.used[ip] = true
		}
		if asks {
			have = req
		}
		for _, ip := range have {
			s.holders[ip] = append(s.holders[ip], svc)
			s.addToGroup(svc, ip)
		}
	}
}

// addToGroup records ip as an IP of svc's sharing group, if svc has a key.
func (s *state) addToGroup(svc *corev1.Service, ip netip.Addr) {
	if key := svcrules.SharingKey(svc); key != "" {
		g := groupKey{svc.Namespace, key}
		if !slices.Contains(s.groups[g], ip) {
			s.groups[g] = append(s.groups[g], ip)
		}
	}
}

func (s *state) decide(svc *corev1.Service) {
	if ips, ok := requested(svc); ok {
		s.claim(svc, ips)
		s.release(svc, "the Service asks for specific IPs")
		return
	}
	pol := wantedFamilies(svc)
	kept := s.keep(svc, pol)
	picks := s.adopt(svc, pol)
	picks = append(picks, s.fill(svc, pol, kept, picks)...)
	s.assign(svc, pol, kept, picks)
}

// claim records the owners of requested IPs by the controller's sharing rule, which
// decides who announces them; the user is told about refusals by the controller.
func (s *state) claim(svc *corev1.Service, ips []netip.Addr) {
	for _, ip := range ips {
		if len(s.owners[ip]) == 0 || sharingRefusal(s.owners[ip], svc, false) == "" {
			s.own(svc, ip)
		}
	}
}

func (s *state) own(svc *corev1.Service, ip netip.Addr) {
	s.used[ip] = true
	s.owners[ip] = append(s.owners[ip], svc)
	s.addToGroup(svc, ip)
}

// keep returns the allocated IPs svc keeps: one per wanted family, each owned by no
// older Service unless validly shared with it. Losing an IP to an older Service heals a
// double allocation (two allocators that overlapped): the younger gets another address.
func (s *state) keep(svc *corev1.Service, pol policy) []netip.Addr {
	cur, _ := parseIPs(svc.Annotations[AnnotationAllocatedIPs])
	var kept []netip.Addr
	for _, ip := range cur {
		f := familyOf(ip)
		if !hasFamily(pol.families, f) || slices.ContainsFunc(kept, func(k netip.Addr) bool { return familyOf(k) == f }) {
			continue
		}
		if why := sharingRefusal(s.owners[ip], svc, true); why != "" {
			s.problem(svc, ReasonIPConflict, fmt.Sprintf("%s was allocated twice and the older Service keeps it: %s; allocating another address", ip, why))
			continue
		}
		s.own(svc, ip)
		kept = append(kept, ip)
	}
	return kept
}

// pick is the outcome of looking for one family's address.
type pick struct {
	f       family
	ip      netip.Addr // valid on success
	pool    string     // where ip came from; empty when it joins a group outside any pool
	shared  bool       // joined a sharing group's IP
	adopted bool       // kept from the Service's status (a Service moved from another load balancer)
	reason  string     // on failure
	why     string     // on failure
	quiet   bool       // failure a dual-stack preference need not report: no pool has the family
}

// fill picks an address of every wanted family that neither kept nor adopted covers.
func (s *state) fill(svc *corev1.Service, pol policy, kept []netip.Addr, adopted []pick) []pick {
	var picks []pick
	for _, f := range pol.families {
		if !slices.ContainsFunc(kept, func(k netip.Addr) bool { return familyOf(k) == f }) &&
			!slices.ContainsFunc(adopted, func(p pick) bool { return p.f == f }) {
			picks = append(picks, s.pick(svc, f))
		}
	}
	return picks
}

// pick finds one address of family f: the sharing group's if svc has a key and the group
// holds one, else the lowest free one of the first candidate pool.
func (s *state) pick(svc *corev1.Service, f family) pick {
	if p, ok := s.join(svc, f); ok {
		return p
	}
	pools, why := s.candidates(svc)
	if why != "" {
		return pick{f: f, reason: ReasonAllocationFailed, why: why}
	}
	var exhausted []string
	for _, p := range pools {
		if !p.hasFamily(f) {
			continue
		}
		if ip, ok := p.lowestFree(f, s.used); ok {
			return pick{f: f, ip: ip, pool: p.Name}
		}
		exhausted = append(exhausted, p.Name)
	}
	if len(exhausted) == 0 {
		return pick{f: f, reason: ReasonAllocationFailed, quiet: true,
			why: fmt.Sprintf("no Ready VIPPool offers %s addresses to this Service", f)}
	}
	return pick{f: f, reason: ReasonAllocationFailed,
		why: fmt.Sprintf("no free %s address in VIPPool %s", f, strings.Join(exhausted, ", "))}
}

// join returns the lowest IP of family f of svc's sharing group that svc may share with
// everyone who owns or carries it, also younger Services not visited yet (two Services
// created together must not start two groups); a refusal when the group has such IPs but
// none it may share; ok false when svc has no key or the group no IP of family f.
func (s *state) join(svc *corev1.Service, f family) (pick, bool) {
	key := svcrules.SharingKey(svc)
	if key == "" {
		return pick{}, false
	}
	refusal := ""
	for _, ip := range slices.SortedFunc(slices.Values(s.groups[groupKey{svc.Namespace, key}]), netip.Addr.Compare) {
		if familyOf(ip) != f {
			continue
		}
		why := sharingRefusal(s.sharers(ip, svc), svc, true)
		if why == "" {
			return pick{f: f, ip: ip, pool: s.containing(ip), shared: true}, true
		}
		if refusal == "" {
			refusal = fmt.Sprintf("cannot share %s with sharing key %q: %s", ip, key, why)
		}
	}
	return pick{f: f, reason: ReasonSharingRefused, why: refusal}, refusal != ""
}

// sharers returns who owns or carries ip, other than svc.
func (s *state) sharers(ip netip.Addr, svc *corev1.Service) []*corev1.Service {
	var out []*corev1.Service
	for _, o := range slices.Concat(s.owners[ip], s.holders[ip]) {
		if o != svc && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// candidates returns the pools svc may get addresses from, by name, or why none.
func (s *state) candidates(svc *corev1.Service) ([]*poolState, string) {
	name, from := svcrules.PoolOf(svc)
	if name == "" {
		var out []*poolState
		for _, p := range s.pools {
			if p.active && p.autoAssign && p.admits(svc, s.in.Namespaces) {
				out = append(out, p)
			}
		}
		return out, ""
	}
	p := s.byName[name]
	switch {
	case p == nil:
		return nil, fmt.Sprintf("VIPPool %s named in %s does not exist", quote(name), from)
	case !p.active:
		return nil, fmt.Sprintf("VIPPool %s named in %s is not Ready", quote(name), from)
	case !p.admits(svc, s.in.Namespaces):
		return nil, fmt.Sprintf("VIPPool %s named in %s does not admit this Service (namespaces or selectors)", quote(name), from)
	}
	return []*poolState{p}, ""
}

// containing returns the first pool in allocation order whose entries hold ip, or "".
func (s *state) containing(ip netip.Addr) string {
	for _, p := range s.pools {
		if p.has(ip) {
			return p.Name
		}
	}
	return ""
}
