package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and version of this API.
const (
	Group   = "vipkeeper.io"
	Version = "v1alpha1"
	Kind    = "VIPPool"
)

var (
	// GroupVersion is vipkeeper.io/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: Group, Version: Version}
	// Resource is the VIPPool resource, for dynamic clients and informers.
	Resource = GroupVersion.WithResource("vippools")
	// BGPPeerResource and BGPAdvertisementResource are the BGP resources (docs/bgp.md).
	BGPPeerResource          = GroupVersion.WithResource("bgppeers")
	BGPAdvertisementResource = GroupVersion.WithResource("bgpadvertisements")
	// SchemeBuilder registers the types of this version.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds VIPPool and VIPPoolList to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &VIPPool{}, &VIPPoolList{},
		&BGPPeer{}, &BGPPeerList{}, &BGPAdvertisement{}, &BGPAdvertisementList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
