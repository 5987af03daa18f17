package pool

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

func FuzzParseBlock(f *testing.F) {
	for _, s := range []string{"198.51.100.0/28", "2001:db8::/64", "198.51.100.1-198.51.100.9", "1.2.3.4",
		"::-::1", "0.0.0.0/0", "255.255.255.254/31", "ffff::/16", "a-b", "-", "/", "1.2.3.4/-1", "::ffff:1.2.3.4/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		b, err := parseBlock(entry)
		if err != nil {
			return
		}
		if b.Lo.Is4() != b.Hi.Is4() || b.Lo.Compare(b.Hi) > 0 {
			t.Fatalf("parseBlock(%q) = %+v: bad bounds", entry, b)
		}
		for _, avoid := range []bool{false, true} {
			n := b.size(avoid)
			if n.Sign() < 0 {
				t.Fatalf("size(%q) = %s", entry, n)
			}
			a, ok := b.lowestFree(nil, avoid)
			if ok != (n.Sign() > 0) {
				t.Fatalf("lowestFree(%q) ok=%v but size %s", entry, ok, n)
			}
			if ok && (!b.allocatable(a, avoid) || !b.contains(a)) {
				t.Fatalf("lowestFree(%q) = %s, outside the block", entry, a)
			}
		}
		// Every address handed out must be a VIP the controller accepts.
		for _, a := range []netip.Addr{b.First, b.Last} {
			if b.First.Compare(b.Last) <= 0 {
				if _, bad := parseIPs(a.String()); len(bad) > 0 {
					t.Fatalf("parseBlock(%q) hands out %s, which the controller refuses", entry, a)
				}
			}
		}
	})
}

// FuzzDecide runs Decide on random Services and pools (one entry from the fuzzer) until
// nothing changes, and checks after every pass that no IP is allocated to two Services
// that may not share it, and that it converges.
func FuzzDecide(f *testing.F) {
	for i := range uint64(40) {
		f.Add(i, "198.51.100.4-198.51.100.12")
	}
	f.Add(uint64(7), "bogus")
	f.Add(uint64(8), "198.51.100.0/30")
	f.Fuzz(func(t *testing.T, seed uint64, entry string) {
		r := rand.New(rand.NewPCG(seed, 42))
		in := Input{Pools: randomPools(r, entry), Services: randomServices(r)}
		for pass := range 6 {
			out := Decide(in)
			checkFresh(t, in.Services, out.Assignments)
			if len(out.Assignments) == 0 {
				checkNoUnsafeSharing(t, in.Services)
				return
			}
			if pass == 5 {
				t.Fatalf("no fixpoint after 5 passes; still: %+v", out.Assignments)
			}
			in.Services = apply(in.Services, out.Assignments)
		}
	})
}

func randomPools(r *rand.Rand, entry string) []*v1alpha1.VIPPool {
	pools := []*v1alpha1.VIPPool{
		vpool("p1", r.IntN(3), addrs("198.51.100.0/29", "2001:db8::/126")),
		vpool("p2", r.IntN(3), addrs(entry)),
	}
	if r.IntN(2) == 0 {
		pools = append(pools, vpool("p0", r.IntN(3), addrs("198.51.100.6-198.51.100.9"), inNamespaces("a")))
	}
	return pools
}

func randomServices(r *rand.Rand) []*corev1.Service {
	ips := []string{"198.51.100.1", "198.51.100.2", "198.51.100.5", "198.51.100.9", "2001:db8::1", "2001:db8::2", "junk", ""}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var out []*corev1.Service
	for i := range r.IntN(14) {
		opts := []svcOpt{key(pick("", "", "k1", "k2")), ports(int32(80 + r.IntN(3)))}
		if r.IntN(4) == 0 {
			opts = append(opts, ann(AnnotationIPs, pick(ips...)))
		}
		if r.IntN(2) == 0 {
			opts = append(opts, allocated(pick(ips...)+","+pick(ips...), ""))
		}
		switch r.IntN(5) {
		case 0:
			opts = append(opts, families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol))
		case 1:
			opts = append(opts, families(corev1.IPFamilyPolicyPreferDualStack, corev1.IPv6Protocol, corev1.IPv4Protocol))
		case 2:
			opts = append(opts, clusterIP)
		case 3:
			opts = append(opts, local)
		}
		out = append(out, svc(pick("a", "b"), fmt.Sprintf("s%d", i), r.IntN(5), opts...))
	}
	return out
}

// apply returns copies of svcs with the assignments written, as the API would hold them.
func apply(svcs []*corev1.Service, as []Assignment) []*corev1.Service {
	byName := map[string]Assignment{}
	for _, a := range as {
		byName[a.Service.String()] = a
	}
	out := make([]*corev1.Service, 0, len(svcs))
	for _, s := range svcs {
		s = s.DeepCopy()
		if a, ok := byName[nameOf(s).String()]; ok {
			setOrDelete(s, AnnotationAllocatedIPs, a.IPs)
			setOrDelete(s, AnnotationAllocatedPools, a.Pools)
		}
		out = append(out, s)
	}
	return out
}

func setOrDelete(s *corev1.Service, k, v string) {
	if v == "" {
		delete(s.Annotations, k)
		return
	}
	ann(k, v)(s)
}

// checkNoUnsafeSharing fails if, at a fixpoint, an allocated IP is held by a Service
// that the controller would refuse it to, or shared against the allocator's own rule:
// walking the served Services oldest first, requesters own their IPs by the controller's
// rule and every allocatee must be compatible with the owners of its IPs.
func checkNoUnsafeSharing(t *testing.T, svcs []*corev1.Service) {
	t.Helper()
	owners := map[netip.Addr][]*corev1.Service{}
	served, _ := split(svcs, Class{})
	for _, s := range served {
		if req, ok := requested(s); ok {
			for _, ip := range req {
				if sharingRefusal(owners[ip], s, false) == "" {
					owners[ip] = append(owners[ip], s)
				}
			}
			continue
		}
		ips, _ := parseIPs(s.Annotations[AnnotationAllocatedIPs])
		for _, ip := range ips {
			if why := sharingRefusal(owners[ip], s, true); why != "" {
				t.Fatalf("at the fixpoint %s is held by %s unsafely: %s", ip, nameOf(s), why)
			}
			owners[ip] = append(owners[ip], s)
		}
	}
}

// checkFresh fails if an assignment hands a Service an IP that another Service
// requests or carries, unless it joins a Service of its namespace with its sharing key.
func checkFresh(t *testing.T, svcs []*corev1.Service, as []Assignment) {
	t.Helper()
	users := map[netip.Addr][]*corev1.Service{}
	byName := map[string]*corev1.Service{}
	for _, s := range svcs {
		byName[nameOf(s).String()] = s
		var req []netip.Addr
		if (Class{}).Active(s) {
			req, _ = requested(s) // requests of other classes are not ours to honour
		}
		have, _ := parseIPs(s.Annotations[AnnotationAllocatedIPs])
		for _, ip := range append(req, have...) {
			users[ip] = append(users[ip], s)
		}
	}
	for _, a := range as {
		s := byName[a.Service.String()]
		had, _ := parseIPs(s.Annotations[AnnotationAllocatedIPs])
		now, _ := parseIPs(a.IPs)
		for _, ip := range now {
			if slices.Contains(had, ip) || len(users[ip]) == 0 {
				continue
			}
			k := s.Annotations[AnnotationSharingKey]
			if !slices.ContainsFunc(users[ip], func(u *corev1.Service) bool {
				return k != "" && u.Namespace == s.Namespace && u.Annotations[AnnotationSharingKey] == k
			}) {
				t.Fatalf("%s newly given to %s, which is not in the sharing group of any of its users", ip, a.Service)
			}
		}
	}
}
