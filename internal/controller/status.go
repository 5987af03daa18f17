package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/util/retry"
)

// statusBackoff bounds one Service's status write: about 1.5 s over 6 attempts.
var statusBackoff = wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 6}

// elect runs client-go leader election for the status writer until ctx ends. Losing the
// election is never final: it campaigns again. Status is output only: nothing here feeds
// back into the Wants (kube-vip#1032).
func (c *Controller) elect(ctx context.Context) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.cfg.Namespace, Name: LeaderLeaseName},
		Client:     c.cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.cfg.NodeName},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: LeaderLeaseName, ReleaseOnCancel: true,
			LeaseDuration: c.cfg.LeaseDuration, RenewDeadline: c.cfg.RenewDeadline, RetryPeriod: c.cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: c.handOver,
				OnStoppedLeading: func() { c.log.Debug("status writer election round ended", "lease", LeaderLeaseName) },
			},
		})
		if err != nil { // Validate checked the timings; nothing else can fail
			c.log.Error("status writer election", "lease", LeaderLeaseName, "err", err)
			return
		}
		le.Run(ctx)
	}
}

// handOver passes a leadership term to writeStatusTerms. client-go runs it in a goroutine
// that it does not wait for, so it must end when the term does.
func (c *Controller) handOver(term context.Context) {
	select {
	case c.terms <- term:
	case <-term.Done():
	}
}

// writeStatusTerms runs one term at a time, so two terms never write concurrently.
func (c *Controller) writeStatusTerms(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case term := <-c.terms:
			c.log.Info("elected to write Service status", "lease", LeaderLeaseName)
			c.writeStatus(term)
			c.log.Info("no longer writing Service status", "lease", LeaderLeaseName)
		}
	}
}

// writeStatus keeps status and refusal Events in line with the latest result while the
// term lasts.
func (c *Controller) writeStatus(term context.Context) {
	emitted := map[Problem]bool{}
	retryAfter := time.NewTimer(0)
	defer retryAfter.Stop()
	retryAfter.Stop()
	for {
		snap := c.snapshotNow()
		if snap.ready {
			if !c.syncStatus(term, snap.wants) {
				retryAfter.Reset(c.cfg.StatusRetry)
			}
			c.emitProblems(snap.problems, emitted)
		}
		select {
		case <-term.Done():
			return
		case <-c.statusKick:
		case <-retryAfter.C:
		}
	}
}

func (c *Controller) snapshotNow() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// syncStatus writes the ingress of every Service of ours whose cached status differs
// from its accepted VIPs. It reports false if some write failed.
func (c *Controller) syncStatus(ctx context.Context, wants map[netip.Addr]Want) bool {
	accepted := Accepted(wants)
	svcs, err := c.services.List(labels.Everything())
	ok := err == nil
	for _, svc := range svcs {
		if ctx.Err() != nil {
			return false
		}
		if !Serves(svc, c.cfg.Class) || svc.DeletionTimestamp != nil {
			continue
		}
		want := ingressFor(accepted[nameOf(svc)])
		if ingressEqual(svc.Status.LoadBalancer.Ingress, want) {
			continue
		}
		if err := c.updateStatus(ctx, svc, want); err != nil {
			c.log.Warn("write Service status", "service", nameOf(svc), "err", err)
			ok = false
		}
	}
	return ok
}

// updateStatus writes one Service's ingress, retrying with backoff on conflicts and
// transient errors; each retry re-reads the Service.
func (c *Controller) updateStatus(ctx context.Context, cached *corev1.Service, want []corev1.LoadBalancerIngress) error {
	nn, svc := nameOf(cached), cached
	err := retry.OnError(statusBackoff, retriable(ctx), func() error {
		if svc == nil {
			cur, err := c.cfg.Client.CoreV1().Services(nn.Namespace).Get(ctx, nn.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			svc = cur
		}
		if !Serves(svc, c.cfg.Class) || ingressEqual(svc.Status.LoadBalancer.Ingress, want) {
			return nil
		}
		upd := svc.DeepCopy()
		upd.Status.LoadBalancer.Ingress = want
		svc = nil // re-read on retry
		_, err := c.cfg.Client.CoreV1().Services(nn.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{FieldManager: Component})
		return err
	})
	if err == nil || apierrors.IsNotFound(err) {
		if err == nil && svc == nil {
			c.log.Info("wrote Service status", "service", nn, "ingress", ingressIPs(want))
		}
		return nil
	}
	return fmt.Errorf("update status of Service %s: %w", nn, err)
}

func retriable(ctx context.Context) func(error) bool {
	return func(err error) bool {
		if ctx.Err() != nil {
			return false
		}
		return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
			apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) ||
			apierrors.IsInternalError(err) || apierrors.IsUnexpectedServerError(err) ||
			errors.Is(err, context.DeadlineExceeded) || utilnet.IsConnectionReset(err) ||
			utilnet.IsConnectionRefused(err) || utilnet.IsProbableEOF(err)
	}
}

func ingressFor(ips []netip.Addr) []corev1.LoadBalancerIngress {
	if len(ips) == 0 {
		return nil
	}
	out := make([]corev1.LoadBalancerIngress, len(ips))
	for i, ip := range ips {
		out[i] = corev1.LoadBalancerIngress{IP: ip.String(), IPMode: new(corev1.LoadBalancerIPModeVIP)}
	}
	return out
}

func ingressEqual(got, want []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(got, want, func(g, w corev1.LoadBalancerIngress) bool {
		return g.IP == w.IP && g.Hostname == "" && len(g.Ports) == 0 &&
			g.IPMode != nil && *g.IPMode == *w.IPMode
	})
}

func ingressIPs(in []corev1.LoadBalancerIngress) []string {
	out := make([]string, len(in))
	for i, g := range in {
		out[i] = g.IP
	}
	return out
}
