package controller

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Test object builders. Services are in namespace "ns" unless the name says "other/x".

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type svcOpt func(*corev1.Service)

func svc(name string, opts ...svcOpt) *corev1.Service {
	ns, n := "ns", name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		ns, n = name[:i], name[i+1:]
	}
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n, Annotations: map[string]string{},
			CreationTimestamp: metav1.NewTime(epoch)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: new(DefaultClass),
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			Ports:                 []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func ips(v string) svcOpt { return func(s *corev1.Service) { s.Annotations[AnnotationIPs] = v } }
func allocated(v string) svcOpt {
	return func(s *corev1.Service) { s.Annotations[AnnotationAllocatedIPs] = v }
}
func lbIP(v string) svcOpt  { return func(s *corev1.Service) { s.Spec.LoadBalancerIP = v } }
func key(v string) svcOpt   { return func(s *corev1.Service) { s.Annotations[AnnotationSharingKey] = v } }
func class(v string) svcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &v } }
func noClass() svcOpt       { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = nil } }
func local() svcOpt {
	return func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }
}

// age makes the Service created n minutes after epoch (older = smaller n).
func age(n int) svcOpt {
	return func(s *corev1.Service) {
		s.CreationTimestamp = metav1.NewTime(epoch.Add(time.Duration(n) * time.Minute))
	}
}

// ports sets the ports, each "TCP/80" or "UDP/53".
func ports(pp ...string) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = nil
		for _, p := range pp {
			proto, num, _ := strings.Cut(p, "/")
			n, _ := strconv.Atoi(num)
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Protocol: corev1.Protocol(proto), Port: int32(n)})
		}
	}
}

type nodeOpt func(*corev1.Node)

func node(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func excluded() nodeOpt {
	return func(n *corev1.Node) { n.Labels[corev1.LabelNodeExcludeBalancers] = "" }
}

func addr(ip string) nodeOpt {
	return func(n *corev1.Node) {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
}

// notReady adds a NotReady condition; Compute must not care.
func notReady() nodeOpt {
	return func(n *corev1.Node) {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse})
	}
}

// ep is an endpoint on node; state is "ready", "serving" (ready=false, serving),
// "draining" (terminating, serving), "gone" (terminating, not serving), "nil" (no conditions).
func ep(nodeName, state string) discoveryv1.Endpoint {
	var c discoveryv1.EndpointConditions
	switch state {
	case "ready":
		c = discoveryv1.EndpointConditions{Ready: new(true), Serving: new(true), Terminating: new(false)}
	case "serving":
		c = discoveryv1.EndpointConditions{Ready: new(false), Serving: new(true), Terminating: new(false)}
	case "draining":
		c = discoveryv1.EndpointConditions{Ready: new(false), Serving: new(true), Terminating: new(true)}
	case "gone":
		c = discoveryv1.EndpointConditions{Ready: new(false), Serving: new(false), Terminating: new(true)}
	case "nil":
	default:
		panic("unknown endpoint state " + state)
	}
	return discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, NodeName: &nodeName, Conditions: c}
}

var sliceSeq int

func slice(service string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	sliceSeq++
	ns, n := "ns", service
	if i := strings.IndexByte(service, '/'); i >= 0 {
		ns, n = service[:i], service[i+1:]
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", n, sliceSeq),
			Labels: map[string]string{discoveryv1.LabelServiceName: n}},
		AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
	}
}

func nn(name string) types.NamespacedName {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return types.NamespacedName{Namespace: name[:i], Name: name[i+1:]}
	}
	return types.NamespacedName{Namespace: "ns", Name: name}
}

func nns(names ...string) []types.NamespacedName {
	out := make([]types.NamespacedName, len(names))
	for i, n := range names {
		out[i] = nn(n)
	}
	return out
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// want builds a Want; rank < 0 means not eligible.
func want(vip string, rank int, services ...string) Want {
	w := Want{IP: ip(vip), Services: nns(services...)}
	if rank >= 0 {
		w.Eligible, w.Rank = true, rank
	}
	return w
}

func wants(ws ...Want) map[netip.Addr]Want {
	out := map[netip.Addr]Want{}
	for _, w := range ws {
		out[w.IP] = w
	}
	return out
}
