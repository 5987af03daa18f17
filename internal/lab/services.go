package lab

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vipkeeper/vipkeeper/internal/controller"
)

// ServiceNamespace holds every Service the lab creates.
const ServiceNamespace = metav1.NamespaceDefault

// ManagedBy is the EndpointSlice managed-by label of the lab's slices: no controller-manager
// runs here, and the value keeps the endpointslice controller's hands off them elsewhere.
const ManagedBy = "vipkeeper-lab"

// Endpoint is one endpoint of a Service on a lab node (a hostNetwork pod: its address is
// the node's).
type Endpoint struct {
	Node     string
	NotReady bool
}

// ServiceSpec is a LoadBalancer Service of class vipkeeper.io/lb in ServiceNamespace.
type ServiceSpec struct {
	Name      string
	VIPs      []netip.Addr // the vipkeeper.io/loadbalancer-ips annotation
	Local     bool         // externalTrafficPolicy Local; Cluster otherwise
	Endpoints []Endpoint   // the Service's one EndpointSlice (possibly empty)
}

// CreateService creates the Service and its EndpointSlice, and adds its VIPs to the probe.
func (l *Lab) CreateService(ctx context.Context, spec ServiceSpec) error {
	slice, err := l.endpointSlice(spec.Name, spec.Endpoints)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{FieldManager: fieldManager}
	if _, err := l.admin.CoreV1().Services(ServiceNamespace).Create(ctx, service(spec), opts); err != nil {
		return fmt.Errorf("create service %s/%s: %w", ServiceNamespace, spec.Name, err)
	}
	if _, err := l.admin.DiscoveryV1().EndpointSlices(ServiceNamespace).Create(ctx, slice, opts); err != nil {
		return fmt.Errorf("create endpointslice %s/%s: %w", ServiceNamespace, slice.Name, err)
	}
	l.mu.Lock()
	for _, vip := range spec.VIPs {
		l.services[vip.Unmap()] = spec.Name
	}
	l.mu.Unlock()
	l.prober.Watch(spec.VIPs...)
	l.cfg.Logger.Info("service created", "service", spec.Name, "vips", spec.VIPs, "local", spec.Local)
	return nil
}

func service(spec ServiceSpec) *corev1.Service {
	ips := make([]string, len(spec.VIPs))
	for i, v := range spec.VIPs {
		ips[i] = v.String()
	}
	policy := corev1.ServiceExternalTrafficPolicyCluster
	if spec.Local {
		policy = corev1.ServiceExternalTrafficPolicyLocal
	}
	class, noNodePorts := controller.DefaultClass, false
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: ServiceNamespace,
			Annotations: map[string]string{controller.AnnotationIPs: strings.Join(ips, ",")}},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass:             &class,
			ExternalTrafficPolicy:         policy,
			AllocateLoadBalancerNodePorts: &noNodePorts,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(80)}},
		},
	}
}

func sliceName(svc string) string { return svc + "-lab" }

// endpointSlice builds the one EndpointSlice of Service svc.
func (l *Lab) endpointSlice(svc string, eps []Endpoint) (*discoveryv1.EndpointSlice, error) {
	port, proto, name := int32(80), corev1.ProtocolTCP, "http"
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: sliceName(svc), Namespace: ServiceNamespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: ManagedBy}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
		Endpoints:   []discoveryv1.Endpoint{},
	}
	for _, ep := range eps {
		e, err := l.endpoint(ep)
		if err != nil {
			return nil, fmt.Errorf("endpoints of service %s: %w", svc, err)
		}
		s.Endpoints = append(s.Endpoints, e)
	}
	return s, nil
}

func (l *Lab) endpoint(ep Endpoint) (discoveryv1.Endpoint, error) {
	n := l.Node(ep.Node)
	if n == nil {
		return discoveryv1.Endpoint{}, fmt.Errorf("no lab node %q", ep.Node)
	}
	ready, terminating, name := !ep.NotReady, false, n.Name()
	return discoveryv1.Endpoint{
		Addresses:  []string{n.IPv4().String()},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &ready, Terminating: &terminating},
		NodeName:   &name,
	}, nil
}

// SetEndpoints replaces the endpoints of Service svc.
func (l *Lab) SetEndpoints(ctx context.Context, svc string, eps []Endpoint) error {
	want, err := l.endpointSlice(svc, eps)
	if err != nil {
		return err
	}
	slices := l.admin.DiscoveryV1().EndpointSlices(ServiceNamespace)
	cur, err := slices.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get endpointslice %s/%s: %w", ServiceNamespace, want.Name, err)
	}
	cur.Endpoints = want.Endpoints
	if _, err := slices.Update(ctx, cur, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return fmt.Errorf("update endpointslice %s/%s: %w", ServiceNamespace, want.Name, err)
	}
	return nil
}

// MoveEndpoint moves Service svc's endpoint on node from to node to (one update of its
// EndpointSlice). It returns the instant just before the update was sent, also recorded
// as a Timeline mark.
func (l *Lab) MoveEndpoint(ctx context.Context, svc, from, to string) (time.Time, error) {
	slices := l.admin.DiscoveryV1().EndpointSlices(ServiceNamespace)
	cur, err := slices.Get(ctx, sliceName(svc), metav1.GetOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("get endpointslice %s/%s: %w", ServiceNamespace, sliceName(svc), err)
	}
	moved := false
	for i, e := range cur.Endpoints {
		if e.NodeName != nil && *e.NodeName == from {
			ep, err := l.endpoint(Endpoint{Node: to, NotReady: e.Conditions.Ready != nil && !*e.Conditions.Ready})
			if err != nil {
				return time.Time{}, err
			}
			cur.Endpoints[i], moved = ep, true
		}
	}
	if !moved {
		return time.Time{}, fmt.Errorf("service %s has no endpoint on node %s", svc, from)
	}
	at := l.timeline.Mark(fmt.Sprintf("move endpoint of %s from %s to %s", svc, from, to))
	if _, err := slices.Update(ctx, cur, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return at, fmt.Errorf("update endpointslice %s/%s: %w", ServiceNamespace, cur.Name, err)
	}
	return at, nil
}

// DeleteService deletes Service svc and its EndpointSlice. Its VIPs stay probed (they
// should go dark), shown as "<svc> (deleted)".
func (l *Lab) DeleteService(ctx context.Context, svc string) error {
	if err := l.admin.CoreV1().Services(ServiceNamespace).Delete(ctx, svc, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete service %s/%s: %w", ServiceNamespace, svc, err)
	}
	err := l.admin.DiscoveryV1().EndpointSlices(ServiceNamespace).Delete(ctx, sliceName(svc), metav1.DeleteOptions{})
	if err != nil {
		return fmt.Errorf("delete endpointslice %s/%s: %w", ServiceNamespace, sliceName(svc), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for vip, name := range l.services {
		if name == svc {
			l.services[vip] = svc + " (deleted)"
		}
	}
	return nil
}
