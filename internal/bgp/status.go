package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// Event reasons of the BGP objects.
const (
	ReasonSessionEstablished = "SessionEstablished"
	ReasonSessionDown        = "SessionDown"
	ReasonPeerRefused        = "PeerRefused"
	ReasonPeerNotConfigured  = "PeerNotConfigured"
	ReasonNotAccepted        = "NotAccepted"
)

// advManager is the field manager every daemon shares for BGPAdvertisement status: they
// all compute the same conditions, and one that finds them written writes nothing.
const advManager = "vipkeeper-bgp"

// statusWriter writes this node's entry in each BGPPeer's status (server-side apply with
// a field manager of its own, so nodes never overwrite each other), the shared
// BGPAdvertisement conditions, and Events on both. Status is output only: a failed
// write is retried on the next pass and never changes what is announced.
type statusWriter struct {
	dyn  dynamic.Interface
	rec  record.EventRecorder
	node string
	log  *slog.Logger

	plan    *Plan
	uids    map[string]types.UID // BGPPeer name -> UID, for Events
	written map[string]string    // object -> fingerprint of what this node last wrote
	peers   map[string]bool      // BGPPeers that hold an entry of this node
	events  map[string]string    // BGPPeer -> last Event reason+message, to emit on change only
}

func (w *statusWriter) manager() string { return "vipkeeper-bgp-" + w.node }

// problems records the plan and the BGPPeers' UIDs, then writes the peer entries.
func (w *statusWriter) problems(ctx context.Context, peers []*v1alpha1.BGPPeer, plan *Plan, sp *Speaker) {
	w.plan = plan
	w.uids = map[string]types.UID{}
	for _, p := range peers {
		w.uids[p.Name] = p.UID
	}
	w.sessions(ctx, sp)
}

// sessions writes this node's entry of every peer it speaks to or should speak to, and
// removes its entry from peers it no longer speaks to.
func (w *statusWriter) sessions(ctx context.Context, sp *Speaker) {
	if w.plan == nil {
		return
	}
	entries := map[string]v1alpha1.BGPPeerNodeStatus{}
	for name, why := range w.plan.PeerProblems {
		entries[name] = w.entry(name, "", 0, condition(false, ReasonInvalidPeer, why, time.Time{}))
		w.event(name, corev1.EventTypeWarning, ReasonPeerNotConfigured, why)
	}
	routes := sp.RoutesTo()
	for _, s := range sp.Sessions() {
		entries[s.Peer] = w.entry(s.Peer, s.State, routes[s.Peer], sessionCondition(s))
		w.sessionEvent(s)
	}
	for name := range w.peers {
		if _, ok := entries[name]; !ok && w.uids[name] != "" {
			w.applyPeer(ctx, name, nil)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		e := entries[name]
		w.applyPeer(ctx, name, &e)
	}
}

func (w *statusWriter) entry(peer, state string, routes int, c metav1.Condition) v1alpha1.BGPPeerNodeStatus {
	return v1alpha1.BGPPeerNodeStatus{Node: w.node, SessionState: state, Routes: int32(routes),
		Conditions: []metav1.Condition{c}}
}

func sessionCondition(s SessionState) metav1.Condition {
	switch {
	case s.Established:
		return condition(true, "Established", "session established", s.Since)
	case s.Refused:
		return condition(false, ReasonPeerRefused, "the router refused the session: "+s.Reason, s.Since)
	}
	return condition(false, s.State, "not established ("+s.Reason+"); a wrong TCP MD5 password or an unreachable router shows only as failing connections", s.Since)
}

func condition(ok bool, reason, msg string, since time.Time) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	if since.IsZero() {
		since = time.Now()
	}
	return metav1.Condition{Type: v1alpha1.ConditionEstablished, Status: st, Reason: reason,
		Message: msg, LastTransitionTime: metav1.NewTime(since.Truncate(time.Second))}
}

func (w *statusWriter) sessionEvent(s SessionState) {
	switch {
	case s.Established:
		w.event(s.Peer, corev1.EventTypeNormal, ReasonSessionEstablished, fmt.Sprintf("node %s: session with %s established", w.node, s.Address))
	case s.Refused:
		w.event(s.Peer, corev1.EventTypeWarning, ReasonPeerRefused, fmt.Sprintf("node %s: %s refused the session: %s; retrying with backoff", w.node, s.Address, s.Reason))
	case s.Flaps > 0:
		w.event(s.Peer, corev1.EventTypeWarning, ReasonSessionDown, fmt.Sprintf("node %s: session with %s down: %s", w.node, s.Address, s.Reason))
	}
}

// event records an Event on a BGPPeer unless the same one was the last.
func (w *statusWriter) event(peer, typ, reason, msg string) {
	if w.events == nil {
		w.events = map[string]string{}
	}
	if w.events[peer] == reason+msg || w.uids[peer] == "" {
		return
	}
	w.events[peer] = reason + msg
	w.rec.Event(objectRef("BGPPeer", peer, w.uids[peer]), typ, reason, msg)
}

func objectRef(kind, name string, uid types.UID) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: kind, Name: name, UID: uid}
}

// applyPeer makes this node's entry of peer e (nil: no entry).
func (w *statusWriter) applyPeer(ctx context.Context, peer string, e *v1alpha1.BGPPeerNodeStatus) {
	st := v1alpha1.BGPPeerStatus{Nodes: []v1alpha1.BGPPeerNodeStatus{}}
	if e != nil {
		st.Nodes = append(st.Nodes, *e)
	}
	// The FSM state of a session that is not up cycles with every connection attempt;
	// only a change of the condition or of the routes is worth a write.
	fpst := st
	if e != nil && e.SessionState != "Established" {
		fpst.Nodes = []v1alpha1.BGPPeerNodeStatus{*e}
		fpst.Nodes[0].SessionState = ""
	}
	fp := fmt.Sprint(fpst)
	if w.written["peer/"+peer] == fp {
		return
	}
	if err := w.apply(ctx, v1alpha1.BGPPeerResource, "BGPPeer", peer, w.manager(), &st); err != nil {
		w.log.Warn("BGPPeer status", "peer", peer, "err", err)
		return
	}
	w.written["peer/"+peer] = fp
	if e != nil {
		w.peers[peer] = true
	} else {
		delete(w.peers, peer)
	}
}

// advertisements writes each BGPAdvertisement's Accepted condition where it differs.
func (w *statusWriter) advertisements(ctx context.Context, ads []*v1alpha1.BGPAdvertisement, plan *Plan) {
	for _, a := range ads {
		c, ok := plan.Accepted[a.Name]
		if !ok || upToDate(a, c) {
			continue
		}
		st := v1alpha1.BGPAdvertisementStatus{ObservedGeneration: a.Generation, Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionAccepted, Status: c.Status, Reason: c.Reason, Message: c.Message,
			ObservedGeneration: a.Generation, LastTransitionTime: metav1.Now()}}}
		if err := w.apply(ctx, v1alpha1.BGPAdvertisementResource, "BGPAdvertisement", a.Name, advManager, &st); err != nil {
			w.log.Warn("BGPAdvertisement status", "advertisement", a.Name, "err", err)
			continue
		}
		typ := corev1.EventTypeNormal
		if c.Status != metav1.ConditionTrue {
			typ = corev1.EventTypeWarning
		}
		w.rec.Event(objectRef("BGPAdvertisement", a.Name, a.UID), typ, c.Reason, c.Message)
	}
}

func upToDate(a *v1alpha1.BGPAdvertisement, c Condition) bool {
	for _, have := range a.Status.Conditions {
		if have.Type == v1alpha1.ConditionAccepted {
			return have.Status == c.Status && have.Reason == c.Reason && have.Message == c.Message &&
				a.Status.ObservedGeneration == a.Generation
		}
	}
	return false
}

// apply server-side applies status to the status subresource of one object.
func (w *statusWriter) apply(ctx context.Context, gvr schema.GroupVersionResource, kind, name, manager string, status any) error {
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return err
	}
	if kind == "BGPPeer" && st["nodes"] == nil {
		st = map[string]any{"nodes": []any{}} // not an empty status, which applies as null
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": v1alpha1.GroupVersion.String(),
		"kind": kind, "metadata": map[string]any{"name": name}, "status": st}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = w.dyn.Resource(gvr).Apply(ctx, name, u, metav1.ApplyOptions{FieldManager: manager, Force: true}, "status")
	return err
}

// forget removes this node's entries (graceful stop).
func (w *statusWriter) forget(ctx context.Context) {
	for _, name := range slices.Sorted(maps.Keys(w.peers)) {
		w.applyPeer(ctx, name, nil)
	}
}
