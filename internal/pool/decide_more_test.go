package pool

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

func TestDecide_OverlappingPoolsLeaveOnlyTheOlderInUse(t *testing.T) {
	runDecide(t, []decideCase{{
		name: "the younger pool a sorts first but yields to the older z",
		pools: []*v1alpha1.VIPPool{
			vpool("a", 10, addrs("198.51.100.8/29")),
			vpool("z", 0, addrs("198.51.100.0/28")),
			vpool("m", 20, addrs("203.0.113.0/30"), inNamespaces("elsewhere")), // does not overlap
		},
		services: []*corev1.Service{svc("ns", "web", 0)},
		want:     []Assignment{alloc("ns", "web", "198.51.100.1", "198.51.100.1=z", "allocated 198.51.100.1 from VIPPool z")},
		problems: []Problem{
			poolProblem("a", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool z; only the oldest of overlapping pools is used"),
			poolProblem("z", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool a; only the oldest of overlapping pools is used"),
		},
		status: map[string]string{"a": "0/0 Overlapping", "z": "1/13 Overlapping,Ready", "m": "0/2 Ready"},
	}, {
		name: "a pool that only overlaps an unused pool is used",
		pools: []*v1alpha1.VIPPool{
			vpool("p1", 0, addrs("198.51.100.0/29")),
			vpool("p2", 1, addrs("198.51.100.4-198.51.100.12")),
			vpool("p3", 2, addrs("198.51.100.10/31")),
		},
		status: map[string]string{"p1": "0/6 Overlapping,Ready", "p2": "0/0 Overlapping", "p3": "0/2 Overlapping,Ready"},
		problems: []Problem{
			poolProblem("p1", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool p2; only the oldest of overlapping pools is used"),
			poolProblem("p2", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool p1, p3; only the oldest of overlapping pools is used"),
			poolProblem("p3", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool p2; only the oldest of overlapping pools is used"),
		},
	}, {
		name: "an allocation from the pool that lost is kept",
		pools: []*v1alpha1.VIPPool{
			vpool("old", 0, addrs("198.51.100.0/28")),
			vpool("new", 1, addrs("198.51.100.0/24")),
		},
		services: []*corev1.Service{svc("ns", "web", 0, allocated("198.51.100.200", "198.51.100.200=new"))},
		status:   map[string]string{"old": "0/14 Overlapping,Ready", "new": "1/0 Overlapping"},
		problems: []Problem{
			poolProblem("new", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool old; only the oldest of overlapping pools is used"),
			poolProblem("old", v1alpha1.ConditionOverlapping, "shares addresses with VIPPool new; only the oldest of overlapping pools is used"),
		},
	}})
}

func TestDecide_AnInvalidPoolIsNotUsedAndAllocationsStay(t *testing.T) {
	runDecide(t, []decideCase{{
		name: "the bad pool sorts first and keeps its Service; the new Service goes to the good pool",
		pools: []*v1alpha1.VIPPool{
			vpool("a-bad", 0, addrs("198.51.100.0/28", "198.51.100.20-198.51.100.10")),
			vpool("b-good", 0, addrs("203.0.113.0/28")),
		},
		services: []*corev1.Service{
			svc("ns", "kept", 0, allocated("198.51.100.3", "198.51.100.3=a-bad")),
			svc("ns", "new", 1),
		},
		want: []Assignment{alloc("ns", "new", "203.0.113.1", "203.0.113.1=b-good", "allocated 203.0.113.1 from VIPPool b-good")},
		problems: []Problem{poolProblem("a-bad", v1alpha1.ConditionInvalid,
			`"198.51.100.20-198.51.100.10": the range starts after it ends`)},
		status: map[string]string{"a-bad": "1/0 Invalid", "b-good": "1/13 Ready"},
	}, {
		name:     "an invalid selector makes the pool invalid",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"), selecting("bad key!", "x"))},
		services: []*corev1.Service{svc("ns", "web", 0)},
		problems: []Problem{
			svcProblem("ns", "web", ReasonAllocationFailed, "no Ready VIPPool offers IPv4 addresses to this Service"),
			poolProblem("a", v1alpha1.ConditionInvalid,
				`spec.serviceSelector: key: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`),
		},
		status: map[string]string{"a": "0/0 Invalid"},
	}})
}

func TestDecide_SelectorsAndAutoAssignChooseThePool(t *testing.T) {
	pools := []*v1alpha1.VIPPool{
		vpool("a-team", 0, addrs("198.51.100.0/30"), inNamespaces("team")),
		vpool("b-labelled", 0, addrs("198.51.100.4/30"), selecting("tier", "edge")),
		vpool("c-by-ns-label", 0, addrs("198.51.100.8/30"), nsSelecting("env", "prod")),
		vpool("d-manual", 0, addrs("198.51.100.12/30"), noAutoAssign),
		vpool("e-any", 0, addrs("198.51.100.16/30")),
	}
	runDecide(t, []decideCase{{
		name:  "each Service gets the first pool that admits it",
		pools: pools,
		services: []*corev1.Service{
			svc("team", "t", 0), svc("x", "edge", 1, labelled("tier", "edge")), svc("prod", "p", 2),
			svc("x", "plain", 3), svc("x", "manual", 4, ann(AnnotationPool, "d-manual")),
		},
		nsLabels: map[string]map[string]string{"prod": {"env": "prod"}},
		want: []Assignment{
			alloc("prod", "p", "198.51.100.9", "198.51.100.9=c-by-ns-label", "allocated 198.51.100.9 from VIPPool c-by-ns-label"),
			alloc("team", "t", "198.51.100.1", "198.51.100.1=a-team", "allocated 198.51.100.1 from VIPPool a-team"),
			alloc("x", "edge", "198.51.100.5", "198.51.100.5=b-labelled", "allocated 198.51.100.5 from VIPPool b-labelled"),
			alloc("x", "manual", "198.51.100.13", "198.51.100.13=d-manual", "allocated 198.51.100.13 from VIPPool d-manual"),
			alloc("x", "plain", "198.51.100.17", "198.51.100.17=e-any", "allocated 198.51.100.17 from VIPPool e-any"),
		},
	}, {
		name:  "a named pool that does not admit the Service refuses it",
		pools: pools,
		services: []*corev1.Service{
			svc("x", "s1", 0, ann(AnnotationPool, "a-team")),
			svc("x", "s2", 1, ann(AnnotationPool, "nope")),
		},
		problems: []Problem{
			svcProblem("x", "s1", ReasonAllocationFailed, `VIPPool "a-team" named in vipkeeper.io/pool does not admit this Service (namespaces or selectors)`),
			svcProblem("x", "s2", ReasonAllocationFailed, `VIPPool "nope" named in vipkeeper.io/pool does not exist`),
		},
	}})
}

func TestDecide_SharingKeyGivesOneAddressWhenSafe(t *testing.T) {
	pools := []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))}
	runDecide(t, []decideCase{{
		name:  "same key, namespace and policy, disjoint ports: one address",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "http", 0, key("k")), svc("ns", "dns", 1, key("k"), ports(53)),
			svc("other", "same-key-other-ns", 2, key("k")),
		},
		want: []Assignment{
			alloc("ns", "dns", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 (shared by sharing key)"),
			alloc("ns", "http", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a"),
			alloc("other", "same-key-other-ns", "198.51.100.2", "198.51.100.2=a", "allocated 198.51.100.2 from VIPPool a"),
		},
		status: map[string]string{"a": "2/12 Ready"},
	}, {
		name:  "the group of a requested IP is joined",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "asks", 0, key("k"), ann(AnnotationIPs, "203.0.113.9")),
			svc("ns", "joins", 1, key("k"), ports(443)),
		},
		want: []Assignment{alloc("ns", "joins", "203.0.113.9", "", "allocated 203.0.113.9 (shared by sharing key)")},
	}, {
		name:  "an older Service joins the IP a younger one of its group got first (both created together)",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "b", 0, key("k"), ports(443), allocated("198.51.100.1", "198.51.100.1=a")),
			svc("ns", "a", 0, key("k")),
		},
		want: []Assignment{alloc("ns", "a", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 (shared by sharing key)")},
	}, {
		name:  "a port clash or another traffic policy is refused",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "first", 0, key("k")),
			svc("ns", "clash", 1, key("k")),
			svc("ns", "local", 2, key("k"), ports(8080), local),
		},
		want: []Assignment{alloc("ns", "first", "198.51.100.1", "198.51.100.1=a", "allocated 198.51.100.1 from VIPPool a")},
		problems: []Problem{
			svcProblem("ns", "clash", ReasonSharingRefused, `cannot share 198.51.100.1 with sharing key "k": Service ns/first uses it with port TCP/80 too`),
			svcProblem("ns", "local", ReasonSharingRefused, `cannot share 198.51.100.1 with sharing key "k": Service ns/first uses it with externalTrafficPolicy Cluster`),
		},
	}})
}

func TestDecide_ADoubleAllocationIsHealedInFavourOfTheOlder(t *testing.T) {
	pools := []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/28"))}
	runDecide(t, []decideCase{{
		name:  "two allocators gave 198.51.100.1 to two Services: the younger moves",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "young", 5, allocated("198.51.100.1", "198.51.100.1=a")),
			svc("ns", "old", 1, allocated("198.51.100.1", "198.51.100.1=a")),
		},
		want: []Assignment{alloc("ns", "young", "198.51.100.2", "198.51.100.2=a", "allocated 198.51.100.2 from VIPPool a")},
		problems: []Problem{svcProblem("ns", "young", ReasonIPConflict,
			"198.51.100.1 was allocated twice and the older Service keeps it: Service ns/old uses it and both need the same vipkeeper.io/sharing-key; allocating another address")},
		status: map[string]string{"a": "2/12 Ready"},
	}, {
		name:  "an older Service asking for the IP wins over a younger allocation",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "asks", 1, ann(AnnotationIPs, "198.51.100.1")),
			svc("ns", "young", 5, allocated("198.51.100.1", "198.51.100.1=a")),
		},
		want: []Assignment{alloc("ns", "young", "198.51.100.2", "198.51.100.2=a", "allocated 198.51.100.2 from VIPPool a")},
		problems: []Problem{svcProblem("ns", "young", ReasonIPConflict,
			"198.51.100.1 was allocated twice and the older Service keeps it: Service ns/asks uses it and both need the same vipkeeper.io/sharing-key; allocating another address")},
	}, {
		name:  "a younger Service asking for an allocated IP changes nothing here (the controller refuses it)",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "old", 1, allocated("198.51.100.1", "198.51.100.1=a")),
			svc("ns", "asks", 5, ann(AnnotationIPs, "198.51.100.1")),
		},
	}, {
		name:  "two compatible Services of one sharing group keep the IP",
		pools: pools,
		services: []*corev1.Service{
			svc("ns", "a", 1, key("k"), allocated("198.51.100.1", "198.51.100.1=a")),
			svc("ns", "b", 2, key("k"), ports(443), allocated("198.51.100.1", "198.51.100.1=a")),
		},
	}})
}
