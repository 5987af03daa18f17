package cpvip

import (
	"fmt"
	"time"
)

// Thresholds are the hysteresis of the local kube-apiserver's health.
type Thresholds struct {
	// FallCount consecutive failed probes make a healthy node unhealthy.
	FallCount int
	// Rise of unbroken success (from the first success of the streak) make an unhealthy
	// node healthy again, once it has been healthy before.
	Rise time.Duration
	// StartCount consecutive successes make the node healthy the first time: a fresh
	// process has no flapping history, and the first node of a new cluster should not
	// hold kubeadm up for Rise.
	StartCount int
}

// DefaultThresholds: with a probe every 500 ms, a dead API server (connection refused)
// costs the VIP 1.0-1.5 s before the node steps down, a hanging one up to 3 s (1 s probe
// timeout); the node comes back only after 10 s without a single failure.
var DefaultThresholds = Thresholds{FallCount: 3, Rise: 10 * time.Second, StartCount: 2}

// Validate reports an unusable threshold.
func (t Thresholds) Validate() error {
	if t.FallCount < 1 || t.StartCount < 1 || t.Rise < 0 {
		return fmt.Errorf("health thresholds: fall %d and start %d must be at least 1, rise %v not negative",
			t.FallCount, t.StartCount, t.Rise)
	}
	return nil
}

// Health turns probe results into a healthy/unhealthy verdict with hysteresis. It is pure:
// time is an argument (the shell passes time.Now()). It starts unhealthy.
type Health struct {
	th      Thresholds
	healthy bool
	ever    bool      // has been healthy before
	fails   int       // consecutive failures
	oks     int       // consecutive successes
	okSince time.Time // first success of the current streak
}

// NewHealth returns an unhealthy Health with thresholds th.
func NewHealth(th Thresholds) *Health { return &Health{th: th} }

// Healthy is the current verdict.
func (h *Health) Healthy() bool { return h.healthy }

// Observe takes one probe result at now and returns the verdict and whether it changed.
func (h *Health) Observe(now time.Time, ok bool) (healthy, changed bool) {
	was := h.healthy
	if ok {
		h.succeeded(now)
	} else {
		h.failed()
	}
	return h.healthy, h.healthy != was
}

func (h *Health) failed() {
	h.oks, h.okSince = 0, time.Time{}
	h.fails++
	if h.healthy && h.fails >= h.th.FallCount {
		h.healthy = false
	}
}

func (h *Health) succeeded(now time.Time) {
	h.fails = 0
	if h.oks == 0 {
		h.okSince = now
	}
	h.oks++
	if h.healthy {
		return
	}
	if (!h.ever && h.oks >= h.th.StartCount) || (h.ever && now.Sub(h.okSince) >= h.th.Rise) {
		h.healthy, h.ever = true, true
	}
}
