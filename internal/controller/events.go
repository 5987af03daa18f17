package controller

import (
	"context"
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// NewRecorder returns an EventRecorder (component "vipkeeper", host node) that writes
// Events through client, and the function that stops it.
func NewRecorder(ctx context.Context, client kubernetes.Interface, node string) (record.EventRecorder, func()) {
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component, Host: node}), b.Shutdown
}

// NodeEvents records this node's own Events about a VIP, on every Service using it.
type NodeEvents struct {
	rec    record.EventRecorder
	node   string
	lookup func(types.NamespacedName) *corev1.Service // nil or returning nil: reference by name only
}

// NewNodeEvents returns NodeEvents for node. lookup (may be nil) finds the Service so the
// Event carries its UID, which `kubectl describe` needs to show it.
func NewNodeEvents(rec record.EventRecorder, node string, lookup func(types.NamespacedName) *corev1.Service) *NodeEvents {
	return &NodeEvents{rec: rec, node: node, lookup: lookup}
}

// NodeEvents returns NodeEvents that use the Controller's recorder and Service cache.
func (c *Controller) NodeEvents() *NodeEvents {
	return NewNodeEvents(c.cfg.Recorder, c.cfg.NodeName, c.lookup)
}

// Announced records VIPAnnounced: "VIP 198.51.100.7 announced on node X".
func (e *NodeEvents) Announced(ip netip.Addr, services []types.NamespacedName) {
	e.record(services, corev1.EventTypeNormal, ReasonVIPAnnounced, fmt.Sprintf("VIP %s announced on node %s", ip, e.node))
}

// Withdrawn records VIPWithdrawn with the reason the node stopped announcing.
func (e *NodeEvents) Withdrawn(ip netip.Addr, services []types.NamespacedName, reason string) {
	e.record(services, corev1.EventTypeNormal, ReasonVIPWithdrawn, fmt.Sprintf("VIP %s withdrawn from node %s: %s", ip, e.node, reason))
}

// Problem records a Warning about the VIP on this node (e.g. a Lease that cannot be written).
func (e *NodeEvents) Problem(ip netip.Addr, services []types.NamespacedName, reason, msg string) {
	e.record(services, corev1.EventTypeWarning, reason, fmt.Sprintf("VIP %s on node %s: %s", ip, e.node, msg))
}

func (e *NodeEvents) record(services []types.NamespacedName, eventType, reason, msg string) {
	for _, nn := range services {
		e.rec.Event(e.object(nn), eventType, reason, msg)
	}
}

func (e *NodeEvents) object(nn types.NamespacedName) runtime.Object {
	if e.lookup != nil {
		if svc := e.lookup(nn); svc != nil {
			return svc
		}
	}
	return &corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: nn.Namespace, Name: nn.Name}
}

// emitNodeProblems records this node's own problems (Node set); every node reports its
// own, the controller role all others.
func (c *Controller) emitNodeProblems(problems []Problem) {
	EmitNew(c.cfg.Recorder, problems, c.nodeEmitted, func(p Problem) bool { return p.Node == c.cfg.NodeName }, c.lookup)
}

// EmitNew records a Warning Event for each problem that mine selects and that emitted does
// not hold yet, and forgets the ones that went away, so a problem that comes back is
// recorded again. lookup finds the Service (nil: not cached; the Event waits).
func EmitNew(rec record.EventRecorder, problems []Problem, emitted map[Problem]bool, mine func(Problem) bool,
	lookup func(types.NamespacedName) *corev1.Service) {
	current := map[Problem]bool{}
	for _, p := range problems {
		if !mine(p) {
			continue
		}
		current[p] = true
		if svc := lookup(p.Service); svc != nil && !emitted[p] {
			rec.Event(svc, corev1.EventTypeWarning, p.Reason, p.Message)
			emitted[p] = true
		}
	}
	for p := range emitted {
		if !current[p] {
			delete(emitted, p)
		}
	}
}

// logProblems logs problems that are new since the last computation.
func (c *Controller) logProblems(problems []Problem) {
	seen := make(map[Problem]bool, len(problems))
	for _, p := range problems {
		seen[p] = true
		if !c.lastProblems[p] {
			c.log.Info("request refused", "service", p.Service, "reason", p.Reason, "msg", p.Message)
		}
	}
	c.lastProblems = seen
}
