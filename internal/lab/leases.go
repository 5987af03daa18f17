package lab

import (
	"context"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// leaseReadTimeout bounds one List: with etcd frozen it fails after this instead of hanging.
const leaseReadTimeout = 2 * time.Second

// leasePoller lists the VIP Leases every interval and records their holders. It lists
// (rather than watches) so the view shows at once when the API stops answering.
type leasePoller struct {
	cs    kubernetes.Interface
	ns    string
	every time.Duration
	vips  func() []netip.Addr
	tl    *Timeline
}

// run polls until ctx ends.
func (p leasePoller) run(ctx context.Context) {
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		p.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p leasePoller) poll(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, leaseReadTimeout)
	defer cancel()
	list, err := p.cs.CoordinationV1().Leases(p.ns).List(cctx, metav1.ListOptions{})
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		p.tl.RecordHolders(time.Now(), nil, err)
		return
	}
	byName := make(map[string]string, len(list.Items))
	for _, l := range list.Items {
		h := ""
		if l.Spec.HolderIdentity != nil {
			h = *l.Spec.HolderIdentity
		}
		byName[l.Name] = h
	}
	holders := map[netip.Addr]string{}
	for _, vip := range p.vips() {
		holders[vip] = byName[lease.Name(vip)]
	}
	p.tl.RecordHolders(time.Now(), holders, nil)
}
