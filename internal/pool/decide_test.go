package pool

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

type decideCase struct {
	name     string
	pools    []*v1alpha1.VIPPool
	services []*corev1.Service
	class    Class
	nsLabels map[string]map[string]string
	want     []Assignment
	problems []Problem
	status   map[string]string // pool -> summary()
}

func nn(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }

func alloc(ns, name, ips, pools, msg string) Assignment {
	return Assignment{Service: nn(ns, name), IPs: ips, Pools: pools, Reason: ReasonIPAllocated, Message: msg}
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Decide(Input{Pools: tc.pools, Services: tc.services, Class: tc.class, Namespaces: tc.nsLabels})
			if diff := cmp.Diff(tc.want, out.Assignments); diff != "" {
				t.Errorf("assignments (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, out.Problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if tc.status != nil {
				if diff := cmp.Diff(tc.status, summaries(out.Pools)); diff != "" {
					t.Errorf("pool status (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestDecide_AllocatesTheLowestFreeAddressOfTheFirstPoolByName(t *testing.T) {
	runDecide(t, []decideCase{{
		name:     "pool a sorts before the older pool b; network address skipped",
		pools:    []*v1alpha1.VIPPool{vpool("b", 0, addrs("198.51.100.0/28")), vpool("a", 5, addrs("203.0.113.0/28"))},
		services: []*corev1.Service{svc("ns", "web", 0)},
		want:     []Assignment{alloc("ns", "web", "203.0.113.1", "203.0.113.1=a", "allocated 203.0.113.1 from VIPPool a")},
		status:   map[string]string{"a": "1/13 Ready", "b": "0/14 Ready"},
	}, {
		name:  "older Services are served first, requested IPs are skipped and counted",
		pools: []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))},
		services: []*corev1.Service{
			svc("ns", "young", 9), svc("ns", "old", 1),
			svc("ns", "asks", 2, ann(AnnotationIPs, "198.51.100.1")),
			svc("ns", "spec", 3, func(s *corev1.Service) { s.Spec.LoadBalancerIP = "198.51.100.3" }),
		},
		want: []Assignment{
			alloc("ns", "old", "198.51.100.2", "198.51.100.2=a", "allocated 198.51.100.2 from VIPPool a"),
			alloc("ns", "young", "198.51.100.4", "198.51.100.4=a", "allocated 198.51.100.4 from VIPPool a"),
		},
		status: map[string]string{"a": "4/10 Ready"},
	}, {
		name:     "an existing allocation is kept and nothing is written",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))},
		services: []*corev1.Service{svc("ns", "web", 0, allocated("198.51.100.9", "198.51.100.9=a"))},
		status:   map[string]string{"a": "1/13 Ready"},
	}, {
		name:     "a requested IP outside every pool is allowed and counts nowhere",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.8/30"))},
		services: []*corev1.Service{svc("ns", "web", 0, ann(AnnotationIPs, "203.0.113.7"))},
		status:   map[string]string{"a": "0/2 Ready"},
	}, {
		name:  "ranges and single addresses are taken as written; IPv6 CIDRs skip their first address",
		pools: []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0-198.51.100.0", "2001:db8::/126"))},
		services: []*corev1.Service{svc("ns", "v4", 0),
			svc("ns", "v6", 1, families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol))},
		want: []Assignment{
			alloc("ns", "v4", "198.51.100.0", "198.51.100.0=a", "allocated 198.51.100.0 from VIPPool a"),
			alloc("ns", "v6", "2001:db8::1", "2001:db8::1=a", "allocated 2001:db8::1 from VIPPool a"),
		},
		problems: []Problem{poolProblem("a", v1alpha1.ConditionExhausted, "no free IPv4 address")},
		status:   map[string]string{"a": "2/2 Exhausted,Ready"},
	}, {
		name:     "avoidBuggyIPs skips .255 and .0",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.254-198.51.101.2"), avoidBuggy)},
		services: []*corev1.Service{svc("ns", "a", 0), svc("ns", "b", 1)},
		want: []Assignment{
			alloc("ns", "a", "198.51.100.254", "198.51.100.254=a", "allocated 198.51.100.254 from VIPPool a"),
			alloc("ns", "b", "198.51.101.1", "198.51.101.1=a", "allocated 198.51.101.1 from VIPPool a"),
		},
		status: map[string]string{"a": "2/1 Ready"},
	}, {
		name:   "a huge IPv6 pool reports a saturated free count",
		pools:  []*v1alpha1.VIPPool{vpool("a", 0, addrs("2001:db8::/48"))},
		status: map[string]string{"a": "0/9223372036854775807 Ready"},
	}})
}

func TestDecide_ServesOnlyLoadBalancersOfOurClass(t *testing.T) {
	pools := []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))}
	services := []*corev1.Service{
		svc("ns", "other-class", 0, class("example.com/lb")),
		svc("ns", "no-class", 1, class("")),
		svc("ns", "cluster-ip", 2, clusterIP),
		svc("ns", "going", 3, deleting),
	}
	runDecide(t, []decideCase{{
		name: "without the default-class option only our class is served", pools: pools, services: services,
		status: map[string]string{"a": "0/14 Ready"},
	}, {
		name: "with the default-class option Services without a class are served too", pools: pools, services: services,
		class: Class{Default: true},
		want:  []Assignment{alloc("ns", "no-class", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
	}, {
		name: "a custom class", pools: pools, services: services, class: Class{Name: "example.com/lb"},
		want: []Assignment{alloc("ns", "other-class", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
	}})
}

func TestDecide_ReleasesWhatIsNoLongerOurs(t *testing.T) {
	pools := []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))}
	release := func(name, msg string) Assignment {
		return Assignment{Service: nn("ns", name), Reason: ReasonIPReleased, Message: msg}
	}
	runDecide(t, []decideCase{{
		name:  "a Service that became ClusterIP or asks for an IP loses the annotations",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "now-clusterip", 0, clusterIP, allocated("198.51.100.1", "198.51.100.1=a")),
			svc("ns", "now-asks", 1, allocated("198.51.100.2", ""), ann(AnnotationIPs, "198.51.100.9")),
			svc("ns", "new", 2),
		},
		want: []Assignment{
			alloc("ns", "new", "198.51.100.3", "198.51.100.3=a", "allocated 198.51.100.3 from VIPPool a"),
			release("now-asks", `released "198.51.100.2": the Service asks for specific IPs`),
			release("now-clusterip", `released "198.51.100.1": the Service is no longer a LoadBalancer of class "vipkeeper.io/lb"`),
		},
		status: map[string]string{"a": "4/10 Ready"},
	}, {
		name:     "a Service being deleted frees its address",
		pools:    pools,
		services: []*corev1.Service{svc("ns", "going", 0, deleting, allocated("198.51.100.1", "")), svc("ns", "new", 1)},
		want:     []Assignment{alloc("ns", "new", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
	}, {
		name:     "bad tokens in the allocated annotation are dropped and the family refilled",
		pools:    pools,
		services: []*corev1.Service{svc("ns", "web", 0, allocated("bogus, 198.51.100.5", ""))},
		want:     []Assignment{{Service: nn("ns", "web"), IPs: "198.51.100.5", Pools: "198.51.100.5=a"}},
	}, {
		name:     "a family the Service no longer wants is released",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28", "2001:db8::/120"))},
		services: []*corev1.Service{svc("ns", "web", 0, allocated("198.51.100.5,2001:db8::5", ""))},
		want: []Assignment{{Service: nn("ns", "web"), IPs: "198.51.100.5", Pools: "198.51.100.5=a",
			Reason: ReasonIPReleased, Message: "released 2001:db8::5"}},
	}})
}

func TestDecide_DualStackFollowsTheFamilyPolicy(t *testing.T) {
	both := []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/30", "2001:db8::/126"))}
	onlyV4 := []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/30"))}
	require := families(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv6Protocol, corev1.IPv4Protocol)
	prefer := families(corev1.IPFamilyPolicyPreferDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)
	runDecide(t, []decideCase{{
		name:     "RequireDualStack gets one address of each family, in the Service's family order",
		pools:    both,
		services: []*corev1.Service{svc("ns", "web", 0, require)},
		want: []Assignment{alloc("ns", "web", "2001:db8::1,198.51.100.1", "2001:db8::1=a,198.51.100.1=a",
			"allocated 2001:db8::1 from VIPPool a, 198.51.100.1 from VIPPool a")},
	}, {
		name:     "PreferDualStack takes what there is, quietly when no pool has the other family",
		pools:    onlyV4,
		services: []*corev1.Service{svc("ns", "web", 0, prefer)},
		want:     []Assignment{alloc("ns", "web", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
	}, {
		name:     "PreferDualStack on a single-stack cluster (one ipFamily) wants that family only",
		pools:    both,
		services: []*corev1.Service{svc("ns", "web", 0, families(corev1.IPFamilyPolicyPreferDualStack, corev1.IPv4Protocol))},
		want:     []Assignment{alloc("ns", "web", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
	}, {
		name:     "RequireDualStack gets nothing when a family is missing",
		pools:    onlyV4,
		services: []*corev1.Service{svc("ns", "web", 0, require)},
		problems: []Problem{svcProblem("ns", "web", ReasonAllocationFailed,
			"RequireDualStack needs an address of each family; no Ready VIPPool offers IPv6 addresses to this Service")},
		status: map[string]string{"a": "0/2 Ready"},
	}, {
		name:  "PreferDualStack reports an exhausted family but keeps the other",
		pools: both,
		services: []*corev1.Service{
			svc("ns", "a", 0, families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)),
			svc("ns", "b", 1, families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)),
			svc("ns", "c", 2, families(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)),
			svc("ns", "web", 3, prefer),
		},
		want: []Assignment{
			alloc("ns", "a", "2001:db8::1", "2001:db8::1=a", "allocated 2001:db8::1 from VIPPool a"),
			alloc("ns", "b", "2001:db8::2", "2001:db8::2=a", "allocated 2001:db8::2 from VIPPool a"),
			alloc("ns", "c", "2001:db8::3", "2001:db8::3=a", "allocated 2001:db8::3 from VIPPool a"),
			alloc("ns", "web", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a"),
		},
		problems: []Problem{
			svcProblem("ns", "web", ReasonAllocationFailed, "no free IPv6 address in VIPPool a"),
			poolProblem("a", v1alpha1.ConditionExhausted, "no free IPv6 address"),
		},
		status: map[string]string{"a": "4/1 Exhausted,Ready"},
	}})
}

func TestDecide_ExhaustionRefusesTheYoungestAndMarksThePool(t *testing.T) {
	runDecide(t, []decideCase{{
		name:     "a /30 has two addresses for three Services",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/30"))},
		services: []*corev1.Service{svc("ns", "s1", 1), svc("ns", "s2", 2), svc("ns", "s3", 3)},
		want: []Assignment{
			alloc("ns", "s1", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a"),
			alloc("ns", "s2", "198.51.100.2", "198.51.100.2=a", "allocated 198.51.100.2 from VIPPool a"),
		},
		problems: []Problem{
			svcProblem("ns", "s3", ReasonAllocationFailed, "no free IPv4 address in VIPPool a"),
			poolProblem("a", v1alpha1.ConditionExhausted, "no free IPv4 address"),
		},
		status: map[string]string{"a": "2/0 Exhausted,Ready"},
	}, {
		name:     "no pool at all",
		services: []*corev1.Service{svc("ns", "s1", 1)},
		problems: []Problem{svcProblem("ns", "s1", ReasonAllocationFailed, "no Ready VIPPool offers IPv4 addresses to this Service")},
		status:   map[string]string{},
	}})
}

func TestDecide_APoolThatShrinksKeepsItsServicesAndSaysSo(t *testing.T) {
	runDecide(t, []decideCase{{
		name:  "the Service keeps 198.51.100.20 after the pool shrank to a /28",
		pools: []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))},
		services: []*corev1.Service{
			svc("ns", "kept", 0, allocated("198.51.100.20", "198.51.100.20=a")),
			svc("ns", "new", 1),
		},
		want: []Assignment{alloc("ns", "new", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
		problems: []Problem{poolProblem("a", v1alpha1.ConditionShrunkInUse,
			"1 Service addresses allocated from this pool are no longer in spec.addresses and stay in use until released: ns/kept (198.51.100.20)")},
		status: map[string]string{"a": "1/13 Ready,ShrunkInUse"},
	}})
}
