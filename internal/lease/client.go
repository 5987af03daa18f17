package lease

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// ClientConfig sizes the dedicated lease client.
type ClientConfig struct {
	QPS     float32       // sustained lease requests per second from this node
	Burst   int           // short bursts above QPS
	Timeout time.Duration // HTTP timeout per request: a backstop behind each attempt's context
}

// NewClient returns a clientset used for Lease traffic only. It copies base, so its rate
// limiter is not shared with informers or status writers: a busy informer relist or a status
// storm never delays a renewal (cilium#26586, karpenter#2100).
func NewClient(base *rest.Config, cc ClientConfig) (*kubernetes.Clientset, error) {
	if cc.QPS <= 0 || cc.Burst <= 0 || cc.Timeout <= 0 {
		return nil, fmt.Errorf("lease client: QPS %v, burst %d and timeout %v must be positive", cc.QPS, cc.Burst, cc.Timeout)
	}
	cfg := rest.CopyConfig(base)
	cfg.QPS, cfg.Burst, cfg.Timeout = cc.QPS, cc.Burst, cc.Timeout
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cc.QPS, cc.Burst)
	cfg.UserAgent = rest.DefaultKubernetesUserAgent() + " vipkeeper-lease"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	return cs, nil
}
