package ingress

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
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// statusBackoff bounds one Service status write: about 1.5 s over 6 attempts.
var statusBackoff = wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 6}

// syncStatus writes the ingress of every Service of ours whose cached status differs
// from its accepted VIPs, or from the IPs held for it while the allocator may still
// adopt them. It reports false if some write failed.
func (t *term) syncStatus(ctx context.Context, svcs []*corev1.Service, accepted, held map[types.NamespacedName][]netip.Addr) bool {
	ok := true
	for _, svc := range svcs {
		if ctx.Err() != nil {
			return false
		}
		if !t.cfg.Class.Active(svc) {
			continue
		}
		nn := svcrules.NameOf(svc)
		want := ingressFor(accepted[nn])
		if len(accepted[nn]) == 0 {
			want = ingressFor(held[nn])
		}
		if ingressEqual(svc.Status.LoadBalancer.Ingress, want) {
			continue
		}
		if err := t.updateStatus(ctx, svc, want); err != nil {
			t.log.Warn("write Service status", "service", svcrules.NameOf(svc), "err", err)
			ok = false
		}
	}
	return ok
}

// updateStatus writes one Service's ingress, retrying with backoff on conflicts and
// transient errors; each retry re-reads the Service.
func (t *term) updateStatus(ctx context.Context, cached *corev1.Service, want []corev1.LoadBalancerIngress) error {
	nn, svc := svcrules.NameOf(cached), cached
	err := retry.OnError(statusBackoff, retriable(ctx), func() error {
		if svc == nil {
			cur, err := t.cfg.Client.CoreV1().Services(nn.Namespace).Get(ctx, nn.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			svc = cur
		}
		if !t.cfg.Class.Serves(svc) || ingressEqual(svc.Status.LoadBalancer.Ingress, want) {
			return nil
		}
		upd := svc.DeepCopy()
		upd.Status.LoadBalancer.Ingress = want
		svc = nil // re-read on retry
		_, err := t.cfg.Client.CoreV1().Services(nn.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
	if err == nil || apierrors.IsNotFound(err) {
		if err == nil && svc == nil {
			t.log.Info("wrote Service status", "service", nn, "ingress", ingressIPs(want))
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

// held are, per Service that asks for nothing, the IPs of its status that the allocator
// may still adopt (svcrules.AdoptableIPs): those that no Service's VIP is and that lie in
// a pool. The writer leaves them in place instead of clearing the status, so a Service
// moved from MetalLB or kube-vip never loses its address to a race between the writer and
// the allocator. Once the allocator decided (adopted, or allocated another address), the
// Service asks for its allocation and the accepted VIPs are written as for any Service.
func held(in svcrules.Input, vips map[netip.Addr]svcrules.VIP) map[types.NamespacedName][]netip.Addr {
	out := map[types.NamespacedName][]netip.Addr{}
	pools := svcrules.ParsePools(in.Pools)
	for _, svc := range in.Services {
		if svc == nil || !in.Class.Active(svc) {
			continue
		}
		for _, ip := range svcrules.AdoptableIPs(svc) {
			if _, wanted := vips[ip]; !wanted && svcrules.PoolOfVIP(pools, ip, "") != nil {
				out[svcrules.NameOf(svc)] = append(out[svcrules.NameOf(svc)], ip)
			}
		}
	}
	return out
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
