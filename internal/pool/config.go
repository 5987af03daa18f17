package pool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Config configures an Allocator. Zero durations take the defaults.
type Config struct {
	Client    kubernetes.Interface         // Services, Namespaces
	Dynamic   dynamic.Interface            // VIPPools
	Discovery discovery.DiscoveryInterface // is the VIPPool CRD served? Default: Client.Discovery()
	// Class is the spec.loadBalancerClass served (DefaultClass when empty); with
	// DefaultClass, Services without a class are served too.
	Class        string
	DefaultClass bool
	Recorder     record.EventRecorder
	Logger       *slog.Logger
	Metrics      prometheus.Registerer // optional: vipkeeper_pool_addresses, vipkeeper_pools_enabled
	// Debounce is the longest a change waits so that a burst is decided once (20 ms).
	Debounce time.Duration
	// RetryMin and RetryMax bound the backoff after a failed write (0.5 s, 30 s).
	RetryMin, RetryMax time.Duration
	// WriteTimeout bounds one API write (10 s).
	WriteTimeout time.Duration
	// CRDPoll is how often discovery is asked whether the VIPPool CRD is served (5 s): pools
	// are off until it is, and go off again if it is removed.
	CRDPoll time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Debounce, 20*time.Millisecond)
	def(&c.RetryMin, 500*time.Millisecond)
	def(&c.RetryMax, 30*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.CRDPoll, 5*time.Second)
	if c.Class == "" {
		c.Class = DefaultClass
	}
	if c.Discovery == nil && c.Client != nil {
		c.Discovery = c.Client.Discovery()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is missing or inconsistent (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	req := func(ok bool, what string) {
		if !ok {
			errs = append(errs, fmt.Errorf("pool config: %s is required", what))
		}
	}
	req(c.Client != nil, "Client")
	req(c.Dynamic != nil, "Dynamic")
	req(c.Recorder != nil, "Recorder")
	if c.Debounce < 0 || c.RetryMin <= 0 || c.RetryMax < c.RetryMin || c.WriteTimeout <= 0 || c.CRDPoll <= 0 {
		errs = append(errs, errors.New("pool config: need Debounce >= 0, 0 < RetryMin <= RetryMax, WriteTimeout > 0, CRDPoll > 0"))
	}
	return errors.Join(errs...)
}
