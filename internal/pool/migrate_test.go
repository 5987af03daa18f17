package pool

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// ingress sets status.loadBalancer.ingress, as MetalLB or kube-vip left it.
func ingress(ips ...string) svcOpt {
	return func(s *corev1.Service) {
		for _, ip := range ips {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
	}
}

func adopted(ns, name, ip, pool string) Assignment {
	return alloc(ns, name, ip, ip+"="+pool, "allocated "+ip+" from VIPPool "+pool+" (kept from status.loadBalancer.ingress)")
}

// Issue 13 section 2: a Service that asks for nothing keeps the IP its status lists when
// that IP is free and inside a pool it may use; older first decides who keeps a contested one.
func TestDecide_AMigratedServiceKeepsItsIngressIP(t *testing.T) {
	p := func() []*v1alpha1.VIPPool { return []*v1alpha1.VIPPool{vpool("lan", 0, addrs("198.51.100.0/29"))} }
	runDecide(t, []decideCase{{
		name:     "it keeps its IP, not the lowest free one",
		pools:    p(),
		services: []*corev1.Service{svc("ns", "moved", 0, ingress("198.51.100.5"))},
		want:     []Assignment{adopted("ns", "moved", "198.51.100.5", "lan")},
		status:   map[string]string{"lan": "1/5 Ready"},
	}, {
		name:     "an older Service without an IP does not take the reserved one",
		pools:    p(),
		services: []*corev1.Service{svc("ns", "old", 0), svc("ns", "moved", 5, ingress("198.51.100.1"))},
		want: []Assignment{adopted("ns", "moved", "198.51.100.1", "lan"),
			alloc("ns", "old", "198.51.100.2", "198.51.100.2=lan", "allocated 198.51.100.2 from VIPPool lan")},
	}, {
		name:     "of two Services listing one IP the older keeps it",
		pools:    p(),
		services: []*corev1.Service{svc("ns", "young", 9, ingress("198.51.100.3")), svc("ns", "old", 1, ingress("198.51.100.3"))},
		want: []Assignment{adopted("ns", "old", "198.51.100.3", "lan"),
			alloc("ns", "young", "198.51.100.1", "198.51.100.1=lan", "allocated 198.51.100.1 from VIPPool lan")},
	}, {
		name:  "an older Service asking for the IP keeps it; a younger one does not",
		pools: p(),
		services: []*corev1.Service{
			svc("ns", "asks-old", 0, ann(svcrules.AnnotationMetalLBIPs, "198.51.100.4")), svc("ns", "moved-a", 1, ingress("198.51.100.4")),
			svc("ns", "moved-b", 2, ingress("198.51.100.6")), svc("ns", "asks-young", 3, ann(AnnotationIPs, "198.51.100.6")),
		},
		want: []Assignment{
			alloc("ns", "moved-a", "198.51.100.1", "198.51.100.1=lan", "allocated 198.51.100.1 from VIPPool lan"),
			adopted("ns", "moved-b", "198.51.100.6", "lan"),
		},
	}, {
		name:     "an IP outside every pool is not kept",
		pools:    p(),
		services: []*corev1.Service{svc("ns", "moved", 0, ingress("203.0.113.9"))},
		want:     []Assignment{alloc("ns", "moved", "198.51.100.1", "198.51.100.1=lan", "allocated 198.51.100.1 from VIPPool lan")},
	}, {
		name:     "an IP in a pool that does not admit the Service is not kept",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/29"), inNamespaces("elsewhere")), vpool("b", 0, addrs("203.0.113.0/29"))},
		services: []*corev1.Service{svc("ns", "moved", 0, ingress("198.51.100.5"))},
		want:     []Assignment{alloc("ns", "moved", "203.0.113.1", "203.0.113.1=b", "allocated 203.0.113.1 from VIPPool b")},
	}, {
		name:     "a Service with an allocation keeps the allocation, not its status",
		pools:    p(),
		services: []*corev1.Service{svc("ns", "web", 0, allocated("198.51.100.2", "198.51.100.2=lan"), ingress("198.51.100.5"))},
	}, {
		name:  "the pool named by metallb.io/address-pool",
		pools: []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/29")), vpool("prod", 0, addrs("203.0.113.0/29"), noAutoAssign)},
		services: []*corev1.Service{svc("ns", "moved", 0, ann(svcrules.AnnotationMetalLBPool, "prod"), ingress("203.0.113.6")),
			svc("ns", "fresh", 1, ann(svcrules.AnnotationMetalLBLegacyPool, "prod"))},
		want: []Assignment{alloc("ns", "fresh", "203.0.113.1", "203.0.113.1=prod", "allocated 203.0.113.1 from VIPPool prod"),
			adopted("ns", "moved", "203.0.113.6", "prod")},
	}, {
		name:  "MetalLB's allow-shared-ip lets a younger Service share the kept IP",
		pools: p(),
		services: []*corev1.Service{
			svc("ns", "http", 0, ann(svcrules.AnnotationMetalLBSharing, "web"), ingress("198.51.100.5")),
			svc("ns", "https", 1, ann(svcrules.AnnotationMetalLBLegacySharing, "web"), ports(443), ingress("198.51.100.5")),
		},
		want: []Assignment{adopted("ns", "http", "198.51.100.5", "lan"),
			alloc("ns", "https", "198.51.100.5", "198.51.100.5=lan", "allocated 198.51.100.5 (shared by sharing key)")},
	}})
}

func TestDecide_HigherPriorityPoolsAreUsedFirst(t *testing.T) {
	hi := vpool("z-hi", 0, addrs("203.0.113.0/29"))
	hi.Spec.Priority = 10
	runDecide(t, []decideCase{{
		name:     "z-hi sorts after a by name but has the higher priority",
		pools:    []*v1alpha1.VIPPool{vpool("a", 0, addrs("198.51.100.0/29")), hi},
		services: []*corev1.Service{svc("ns", "web", 0)},
		want:     []Assignment{alloc("ns", "web", "203.0.113.1", "203.0.113.1=z-hi", "allocated 203.0.113.1 from VIPPool z-hi")},
	}})
}
