package pool

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type svcOpt func(*corev1.Service)

// svc builds a LoadBalancer Service of our class in namespace ns, created age seconds
// after t0, single-stack IPv4, with port TCP/80.
func svc(ns, name string, age int, opts ...svcOpt) *corev1.Service {
	class := DefaultClass
	single := corev1.IPFamilyPolicySingleStack
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second))},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class,
			IPFamilyPolicy: &single, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ann(k, v string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[k] = v
	}
}

func allocated(ips, pools string) svcOpt {
	return func(s *corev1.Service) {
		ann(AnnotationAllocatedIPs, ips)(s)
		if pools != "" {
			ann(AnnotationAllocatedPools, pools)(s)
		}
	}
}

func key(k string) svcOpt { return ann(AnnotationSharingKey, k) }

func ports(ps ...int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = nil
		for _, p := range ps {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Protocol: corev1.ProtocolTCP, Port: p})
		}
	}
}

func families(pol corev1.IPFamilyPolicy, fams ...corev1.IPFamily) svcOpt {
	return func(s *corev1.Service) { s.Spec.IPFamilyPolicy, s.Spec.IPFamilies = &pol, fams }
}

func local(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

func class(c string) svcOpt {
	return func(s *corev1.Service) {
		if c == "" {
			s.Spec.LoadBalancerClass = nil
			return
		}
		s.Spec.LoadBalancerClass = &c
	}
}

func labelled(k, v string) svcOpt {
	return func(s *corev1.Service) { s.Labels = map[string]string{k: v} }
}

func deleting(s *corev1.Service) {
	now := metav1.NewTime(t0)
	s.DeletionTimestamp = &now
}

func clusterIP(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }

type poolOpt func(*v1alpha1.VIPPool)

// vpool builds a VIPPool created age seconds after t0.
func vpool(name string, age int, addrs []string, opts ...poolOpt) *v1alpha1.VIPPool {
	p := &v1alpha1.VIPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Second))},
		Spec:       v1alpha1.VIPPoolSpec{Addresses: addrs},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func addrs(a ...string) []string { return a }

func noAutoAssign(p *v1alpha1.VIPPool) { f := false; p.Spec.AutoAssign = &f }

func avoidBuggy(p *v1alpha1.VIPPool) { p.Spec.AvoidBuggyIPs = true }

func inNamespaces(ns ...string) poolOpt {
	return func(p *v1alpha1.VIPPool) { p.Spec.Namespaces = ns }
}

func selecting(k, v string) poolOpt {
	return func(p *v1alpha1.VIPPool) {
		p.Spec.ServiceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
}

func nsSelecting(k, v string) poolOpt {
	return func(p *v1alpha1.VIPPool) {
		p.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
}

// summary renders a pool status as "allocated/free" and its True conditions, sorted.
func summary(st v1alpha1.VIPPoolStatus) string {
	var trues []string
	for _, c := range st.Conditions {
		if c.Status == metav1.ConditionTrue {
			trues = append(trues, c.Type)
		}
	}
	slices.Sort(trues)
	return fmt.Sprintf("%d/%d %s", st.Allocated, st.Free, strings.Join(trues, ","))
}

func summaries(m map[string]v1alpha1.VIPPoolStatus) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = summary(v)
	}
	return out
}

func svcProblem(ns, name, reason, msg string) Problem {
	return Problem{Object: Object{Kind: KindService, Namespace: ns, Name: name}, Reason: reason, Message: msg}
}

func poolProblem(name, reason, msg string) Problem {
	return Problem{Object: Object{Kind: KindPool, Name: name}, Reason: reason, Message: msg}
}
