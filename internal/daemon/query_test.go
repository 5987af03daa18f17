package daemon_test

import (
	"context"
	"net/netip"
	"strings"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

type event = daemontest.Event

// of keeps node's events of kind (node "" keeps every node's).
func of(node string, kind daemontest.Kind) func(event) bool {
	return func(e event) bool { return e.Kind == kind && (node == "" || e.Node == node) }
}

// and keeps the events that every filter keeps.
func and(fs ...func(event) bool) func(event) bool {
	return func(e event) bool {
		for _, f := range fs {
			if !f(e) {
				return false
			}
		}
		return true
	}
}

// after keeps events issued at or after t.
func after(t time.Time) func(event) bool { return func(e event) bool { return !e.At.Before(t) } }

// afterSeq keeps the events that returned after the event numbered seq.
func afterSeq(seq int) func(event) bool { return func(e event) bool { return e.Seq > seq } }

func before(t time.Time) func(event) bool { return func(e event) bool { return e.At.Before(t) } }

func notNode(node string) func(event) bool { return func(e event) bool { return e.Node != node } }

// claimed keeps successful writes of a node's own presence: the writes its fence counts
// from (their At is the issue time).
func claimed(e event) bool {
	return e.Kind == daemontest.KindWrite && e.OK() && e.Lease == lease.NodeName(e.Node) &&
		(e.Op == election.OpCreate || e.Op == election.OpAcquire || e.Op == election.OpRenew)
}

// vipWrites keeps writes of VIP Leases.
func vipWrites(e event) bool {
	return e.Kind == daemontest.KindWrite && !strings.HasPrefix(e.Lease, lease.NodePrefix)
}

func op(o election.Op) func(event) bool { return func(e event) bool { return e.Op == o } }

func okEv(e event) bool { return e.OK() }

// lastClaim is the issue time of node's last successful holder-setting write.
func (c *cluster) lastClaim(node string) time.Time {
	c.t.Helper()
	e, ok := c.hist.Last(and(of(node, daemontest.KindWrite), claimed))
	if !ok {
		c.t.Fatalf("%s never renewed its presence\n%s", node, c.hist.Tail(30))
	}
	return e.At
}

// lastClaimBefore is the issue time of node's last successful holder-setting write
// issued before t.
func (c *cluster) lastClaimBefore(node string, t time.Time) time.Time {
	c.t.Helper()
	e, ok := c.hist.Last(and(of(node, daemontest.KindWrite), claimed, before(t)))
	if !ok {
		c.t.Fatalf("%s never renewed its presence before %v", node, t.Sub(bubbleStart))
	}
	return e.At
}

// afterRenew sleeps until just after n's next renew (renews come every RetryPeriod from
// the last one), so a fault starting now starts with the most of n's deadline left.
func (c *cluster) afterRenew(n *node) {
	c.t.Helper()
	next := c.lastClaim(n.name).Add(c.tm.rp)
	time.Sleep(time.Until(next) + time.Millisecond)
	if got := c.lastClaim(n.name); !got.Equal(next) {
		c.t.Fatalf("%s: expected a renew at %v, last one at %v", n.name, next.Sub(bubbleStart), got.Sub(bubbleStart))
	}
}

// lease reads the Lease from the fake API server (nil when absent).
func (c *cluster) lease(ip netip.Addr) *coordv1.Lease {
	c.t.Helper()
	l, err := c.api.CoordinationV1().Leases(c.ns).Get(context.Background(), lease.Name(ip), metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return l
}

func holderOf(l *coordv1.Lease) string {
	if l == nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// record reads a record from the fake API server as the core would see it.
func (c *cluster) record(ref election.Ref) (election.Record, string) {
	c.t.Helper()
	l, err := c.api.CoordinationV1().Leases(c.ns).Get(context.Background(), lease.NameOf(ref), metav1.GetOptions{})
	if err != nil {
		return election.Record{}, ""
	}
	return lease.ToRecord(l), l.ResourceVersion
}
