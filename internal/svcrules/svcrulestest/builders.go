// Package svcrulestest builds the Services, Nodes and EndpointSlices that tests of the
// Service rules feed in. Services are in namespace "ns" unless the name says "other/x".
package svcrulestest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The vocabulary, spelled out rather than imported so that svcrules' own tests can use
// these builders (AnnotationIPs and friends; a test there checks they agree).
const (
	AnnotationIPs          = "vipkeeper.io/loadbalancer-ips"
	AnnotationAllocatedIPs = "vipkeeper.io/allocated-ips"
	AnnotationSharingKey   = "vipkeeper.io/sharing-key"
	DefaultClass           = "vipkeeper.io/lb"
)

// Epoch is the creation time of every Service unless Age says otherwise.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type SvcOpt func(*corev1.Service)

func Svc(name string, opts ...SvcOpt) *corev1.Service {
	ns, n := "ns", name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		ns, n = name[:i], name[i+1:]
	}
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n, Annotations: map[string]string{},
			CreationTimestamp: metav1.NewTime(Epoch)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: new(DefaultClass),
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			Ports:                 []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func IPs(v string) SvcOpt {
	return func(s *corev1.Service) { s.Annotations[AnnotationIPs] = v }
}
func Allocated(v string) SvcOpt {
	return func(s *corev1.Service) { s.Annotations[AnnotationAllocatedIPs] = v }
}
func LBIP(v string) SvcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerIP = v } }
func Key(v string) SvcOpt {
	return func(s *corev1.Service) { s.Annotations[AnnotationSharingKey] = v }
}
func Class(v string) SvcOpt { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &v } }
func NoClass() SvcOpt       { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = nil } }
func Local() SvcOpt {
	return func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }
}

// age makes the Service created n minutes after Epoch (older = smaller n).
func Age(n int) SvcOpt {
	return func(s *corev1.Service) {
		s.CreationTimestamp = metav1.NewTime(Epoch.Add(time.Duration(n) * time.Minute))
	}
}

// ports sets the ports, each "TCP/80" or "UDP/53".
func Ports(pp ...string) SvcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = nil
		for _, p := range pp {
			proto, num, _ := strings.Cut(p, "/")
			n, _ := strconv.Atoi(num)
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Protocol: corev1.Protocol(proto), Port: int32(n)})
		}
	}
}

type NodeOpt func(*corev1.Node)

func Node(name string, opts ...NodeOpt) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func Excluded() NodeOpt {
	return func(n *corev1.Node) { n.Labels[corev1.LabelNodeExcludeBalancers] = "" }
}

func Addr(ip string) NodeOpt {
	return func(n *corev1.Node) {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
}

// notReady adds a NotReady condition; Compute must not care.
func NotReady() NodeOpt {
	return func(n *corev1.Node) {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse})
	}
}

// ep is an endpoint on node; state is "ready", "serving" (ready=false, serving),
// "draining" (terminating, serving), "gone" (terminating, not serving), "nil" (no conditions).
func EP(nodeName, state string) discoveryv1.Endpoint {
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

var sliceSeq atomic.Int64

func Slice(service string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	seq := sliceSeq.Add(1)
	ns, n := "ns", service
	if i := strings.IndexByte(service, '/'); i >= 0 {
		ns, n = service[:i], service[i+1:]
	}
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", n, seq),
			Labels: map[string]string{discoveryv1.LabelServiceName: n}},
		AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
	}
}

// NN is "ns/name" for a bare name.
func NN(name string) types.NamespacedName {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return types.NamespacedName{Namespace: name[:i], Name: name[i+1:]}
	}
	return types.NamespacedName{Namespace: "ns", Name: name}
}

func NNs(names ...string) []types.NamespacedName {
	out := make([]types.NamespacedName, len(names))
	for i, n := range names {
		out[i] = NN(n)
	}
	return out
}

// IP parses s.
func IP(s string) netip.Addr { return netip.MustParseAddr(s) }

// Ann sets any annotation (MetalLB's and kube-vip's, say).
func Ann(k, v string) SvcOpt {
	return func(s *corev1.Service) { s.Annotations[k] = v }
}

// Ingress sets status.loadBalancer.ingress, as another load balancer left it.
func Ingress(ips ...string) SvcOpt {
	return func(s *corev1.Service) {
		for _, ip := range ips {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
	}
}

// Label sets a label on a Node.
func Label(k, v string) NodeOpt {
	return func(n *corev1.Node) { n.Labels[k] = v }
}
