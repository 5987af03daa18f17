package inspect

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Input is what Build reads: the objects the agents read, and the Leases of the namespace.
type Input struct {
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Nodes          []*corev1.Node
	Leases         []*coordv1.Lease
	Pools          []*v1alpha1.VIPPool
	Class          svcrules.Class
	// IgnoreExcludeLB: the agents run with --ignore-exclude-lb.
	IgnoreExcludeLB bool
}

// Row is one VIP.
type Row struct {
	VIP      netip.Addr `json:"vip"`
	Services []string   `json:"services"` // namespace/name; empty when no Service wants the VIP
	Policy   string     `json:"externalTrafficPolicy,omitempty"`
	Lease    string     `json:"lease"`
	Holder   string     `json:"holder,omitempty"` // "" when nobody holds it
	// LastRenew is the holder's last renew; RenewFrom says whose renewTime it is ("node":
	// the holder's presence Lease, "vip": the VIP Lease).
	LastRenew   *time.Time `json:"lastRenew,omitempty"`
	RenewFrom   string     `json:"renewFrom,omitempty"`
	Candidates  []string   `json:"candidates"`
	NoCandidate string     `json:"noCandidate,omitempty"`
	// Pool is the VIPPool the VIP belongs to; Interfaces its spec.l2.interfaces.
	Pool       string   `json:"pool,omitempty"`
	Interfaces []string `json:"interfaces,omitempty"`
	// LastTransition is when ownership last changed (acquireTime), with its reason.
	LastTransition   *time.Time `json:"lastTransition,omitempty"`
	TransitionReason string     `json:"transitionReason,omitempty"`
}

// Build returns one row per wanted VIP and per VIP Lease that no Service wants, by address.
func Build(in Input) []Row {
	vips, _ := svcrules.Resolve(svcrules.Input{Services: in.Services, EndpointSlices: in.EndpointSlices,
		Nodes: in.Nodes, Pools: in.Pools, Class: in.Class, IgnoreExcludeLB: in.IgnoreExcludeLB})
	byName := map[string]*coordv1.Lease{}
	for _, l := range in.Leases {
		if l != nil {
			byName[l.Name] = l
		}
	}
	rows := make([]Row, 0, len(vips))
	for ip, v := range vips {
		rows = append(rows, row(ip, &v, byName))
	}
	for _, l := range in.Leases {
		if ip, ok := vipOf(l); ok {
			if _, wanted := vips[ip]; !wanted {
				rows = append(rows, row(ip, nil, byName))
			}
		}
	}
	slices.SortFunc(rows, func(a, b Row) int { return a.VIP.Compare(b.VIP) })
	return slices.CompactFunc(rows, func(a, b Row) bool { return a.VIP == b.VIP })
}

func row(ip netip.Addr, v *svcrules.VIP, leases map[string]*coordv1.Lease) Row {
	r := Row{VIP: ip, Lease: lease.Name(ip), Candidates: []string{}, Services: []string{}}
	if v != nil {
		for _, nn := range v.Services {
			r.Services = append(r.Services, nn.String())
		}
		r.Policy, r.Candidates, r.NoCandidate = string(v.Policy), v.Candidates, v.NoCandidate
		r.Pool, r.Interfaces = v.Pool, v.Interfaces
	}
	l := leases[r.Lease]
	if l == nil {
		return r
	}
	if h := l.Spec.HolderIdentity; h != nil {
		r.Holder = *h
	}
	r.LastRenew, r.RenewFrom = lastRenew(l, r.Holder, leases)
	if l.Spec.AcquireTime != nil {
		t := l.Spec.AcquireTime.Time
		r.LastTransition = &t
	}
	r.TransitionReason = l.Annotations[lease.AnnotationTransition]
	return r
}

// lastRenew is the renewTime of the holder's presence Lease if it exists, else the VIP
// Lease's own.
func lastRenew(vip *coordv1.Lease, holder string, leases map[string]*coordv1.Lease) (*time.Time, string) {
	if holder == "" {
		return nil, ""
	}
	if n := leases[lease.NodeName(holder)]; n != nil && n.Spec.RenewTime != nil {
		t := n.Spec.RenewTime.Time
		return &t, "node"
	}
	if vip.Spec.RenewTime != nil {
		t := vip.Spec.RenewTime.Time
		return &t, "vip"
	}
	return nil, ""
}

// vipOf returns the VIP a Lease is the ownership record of: its annotation
// lease.AnnotationVIP, else the address its name encodes (lease.Name). Presence Leases and
// others are not VIP Leases.
func vipOf(l *coordv1.Lease) (netip.Addr, bool) {
	if l == nil || strings.HasPrefix(l.Name, lease.NodePrefix) || l.Labels[lease.KindLabel] == lease.KindNode {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(l.Annotations[lease.AnnotationVIP]); err == nil {
		return a.Unmap(), true
	}
	rest, ok := strings.CutPrefix(l.Name, lease.Prefix)
	if !ok {
		return netip.Addr{}, false
	}
	for _, s := range []string{strings.ReplaceAll(rest, "-", "."), strings.ReplaceAll(rest, "-", ":")} {
		if a, err := netip.ParseAddr(s); err == nil && lease.Name(a) == l.Name {
			return a, true
		}
	}
	return netip.Addr{}, false
}
