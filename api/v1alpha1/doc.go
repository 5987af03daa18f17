// Package v1alpha1 holds the vipkeeper.io/v1alpha1 API: the cluster-scoped VIPPool, the
// addresses that vipkeeper's allocator (internal/pool) hands to type LoadBalancer Services
// of its class that ask for no particular IP, and the cluster-scoped BGPPeer and
// BGPAdvertisement of BGP mode (internal/bgp, docs/bgp.md).
//
// Invariant: these are plain data types. They depend on k8s.io/apimachinery only, so the
// daemon needs no controller-runtime; zz_generated.deepcopy.go and deploy/crds/ are
// generated from the kubebuilder markers here by hack/gen.sh and committed.
//
// +kubebuilder:object:generate=true
// +groupName=vipkeeper.io
package v1alpha1
