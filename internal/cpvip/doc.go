// Package cpvip is vipkeeper's control-plane mode: one virtual IP for kube-apiserver,
// held by exactly one healthy control-plane node (the address in kubeadm's
// controlPlaneEndpoint). It runs as a static Pod on every control-plane node and needs
// nothing from the cluster to start: it elects through the node's own kube-apiserver
// (https://127.0.0.1:6443, verified as "kubernetes") with a kubeconfig on the host, in a
// namespace that exists before any add-on (kube-system), with the same election core,
// kernel fencing and data plane as the Service VIPs (internal/daemon with one static Want).
//
// Invariants:
//   - A node is a candidate only while its local kube-apiserver answers /readyz, with
//     hysteresis (Health): it leaves after FallCount consecutive failed probes and comes
//     back only after Rise of unbroken success, so a flapping API server can move the VIP
//     at most once per flap cycle, and only away from the flapping node.
//   - Every write that makes this node the holder (create, acquire, renew) goes to the
//     local kube-apiserver only, so a node whose local API is down cannot hold the VIP.
//     Only a release (issued after the VIP was withdrawn, as a compare-and-swap) and reads
//     may fall back to the other control-plane nodes' API servers, so a successor takes
//     over at once instead of after the lease duration.
//   - Its addresses carry their own IFA_PROTO mark (Protocol), so the Service agent's
//     start-up sweep and this mode's never remove each other's addresses.
//
// `vipkeeper manifest static-pod` prints the static Pod (StaticPod); docs/control-plane.md
// explains the kubeadm bootstrap and the timings.
package cpvip
