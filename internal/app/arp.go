package app

import (
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// ReasonARPNotStrict is the Event reason on the Node when kube-proxy's IPVS mode runs without
// strictARP: every node then answers ARP for every VIP (issue 13).
const ReasonARPNotStrict = "KubeProxyIPVSWithoutStrictARP"

// arpChecker is the data plane's start-up ARP check (announce.Announcer).
type arpChecker interface {
	ARPWarnings() ([]string, error)
}

// warnARP checks once, at start-up, for kube-proxy's IPVS mode without strictARP, and logs
// each finding and records it as a Warning Event on this node's Node object.
func warnARP(plane arpChecker, rec record.EventRecorder, node string, log *slog.Logger) {
	warns, err := plane.ARPWarnings()
	if err != nil {
		log.Warn("cannot check the ARP settings kube-proxy's IPVS mode needs", "node", node, "err", err)
		return
	}
	// Node Events carry the node name as UID, as the kubelet's do, so kubectl describe finds them.
	ref := &corev1.ObjectReference{Kind: "Node", Name: node, UID: types.UID(node)}
	for _, w := range warns {
		log.Warn("ARP is not strict beside kube-proxy's IPVS mode", "node", node, "detail", w)
		rec.Event(ref, corev1.EventTypeWarning, ReasonARPNotStrict, w)
	}
}
