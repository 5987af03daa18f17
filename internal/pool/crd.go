package pool

import (
	"context"
	"sync"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch"
)

// crdState remembers whether the VIPPool CRD was last seen served, so each change is said
// once: a missing CRD is one log line and a metric, not an error every few seconds.
type crdState struct {
	mu    sync.Mutex
	known bool
	on    bool
}

// set records the new state and reports whether it changed.
func (s *crdState) set(on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := !s.known || s.on != on
	s.known, s.on = true, on
	return changed
}

// served asks discovery whether the VIPPool CRD is served (poolwatch.Served).
func (a *Allocator) served() (bool, error) { return poolwatch.Served(a.cfg.Discovery) }

// observe asks discovery and logs and counts a change; on an error it keeps the state.
func (a *Allocator) observe() (on, ok bool) {
	on, err := a.served()
	if err != nil {
		a.log.Debug("VIPPool discovery failed; asking again", "err", err)
		return false, false
	}
	if a.crd.set(on) {
		a.m.poolsEnabled(on)
		if on {
			a.log.Info("VIPPool CRD served: address pools are on", "crd", v1alpha1.Resource.GroupResource().String())
		} else {
			a.log.Warn("VIPPool CRD not installed: address pools are off until it is (deploy/crds/)",
				"crd", v1alpha1.Resource.GroupResource().String())
		}
	}
	return on, true
}

// waitCRD returns true once the CRD is served, false when ctx ends first.
func (a *Allocator) waitCRD(ctx context.Context) bool {
	for {
		if on, ok := a.observe(); ok && on {
			return true
		}
		if !sleep(ctx, a.cfg.CRDPoll) {
			return false
		}
	}
}

// watchCRD calls stop once the CRD is no longer served.
func (a *Allocator) watchCRD(ctx context.Context, stop context.CancelFunc) {
	if poolwatch.UntilGone(ctx, a.cfg.CRDPoll, a.observe) {
		stop()
	}
}
