package pool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Config configures an Allocator. Zero durations take the defaults.
type Config struct {
	Client    kubernetes.Interface // Services, Namespaces, the Lease
	Dynamic   dynamic.Interface    // VIPPools
	Namespace string               // holds the LeaseName Lease; DefaultNamespace when empty
	Identity  string               // this daemon in the election, normally the node name
	// Class is the spec.loadBalancerClass served (DefaultClass when empty); with
	// DefaultClass, Services without a class are served too.
	Class        string
	DefaultClass bool
	Recorder     record.EventRecorder
	Logger       *slog.Logger
	// Leader election of the allocator (client-go defaults 15 s / 10 s / 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Debounce is the longest a change waits so that a burst is decided once (20 ms).
	Debounce time.Duration
	// RetryMin and RetryMax bound the backoff after a failed write (0.5 s, 30 s).
	RetryMin, RetryMax time.Duration
	// WriteTimeout bounds one API write (10 s).
	WriteTimeout time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.LeaseDuration, 15*time.Second)
	def(&c.RenewDeadline, 10*time.Second)
	def(&c.RetryPeriod, 2*time.Second)
	def(&c.Debounce, 20*time.Millisecond)
	def(&c.RetryMin, 500*time.Millisecond)
	def(&c.RetryMax, 30*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Class == "" {
		c.Class = DefaultClass
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
	req(c.Identity != "", "Identity")
	req(c.Recorder != nil, "Recorder")
	if c.Debounce < 0 || c.RetryMin <= 0 || c.RetryMax < c.RetryMin || c.WriteTimeout <= 0 {
		errs = append(errs, errors.New("pool config: need Debounce >= 0, 0 < RetryMin <= RetryMax, WriteTimeout > 0"))
	}
	if !(c.LeaseDuration > c.RenewDeadline && c.RenewDeadline > c.RetryPeriod*12/10 && c.RetryPeriod > 0) {
		errs = append(errs, fmt.Errorf("pool config: need LeaseDuration (%s) > RenewDeadline (%s) > 1.2 x RetryPeriod (%s) > 0",
			c.LeaseDuration, c.RenewDeadline, c.RetryPeriod))
	}
	return errors.Join(errs...)
}
