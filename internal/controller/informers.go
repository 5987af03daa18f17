package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/vipkeeper/vipkeeper/internal/informer"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// patientInformers makes f's Service, EndpointSlice and Node informers Patient
// (internal/informer): after any outage the node learns what is wanted within about half a
// second of the API answering, not after client-go's relist backoff (up to 30 s).
func patientInformers(f informers.SharedInformerFactory, c kubernetes.Interface) {
	svcs, slices, nodes := c.CoreV1().Services(""), c.DiscoveryV1().EndpointSlices(""), c.CoreV1().Nodes()
	informer.Register(f, &corev1.Service{}, listWatch(svcs.List, svcs.Watch), c, lease.Transient)
	informer.Register(f, &discoveryv1.EndpointSlice{}, listWatch(slices.List, slices.Watch), c, lease.Transient)
	informer.Register(f, &corev1.Node{}, listWatch(nodes.List, nodes.Watch), c, lease.Transient)
}

func listWatch[L runtime.Object](list func(context.Context, metav1.ListOptions) (L, error),
	w func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return list(ctx, o) },
		WatchFuncWithContext: w,
	}
}
