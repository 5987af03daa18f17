package daemontest

import (
	"context"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/announce"
)

// Dataplane is the port a Plane wraps (daemon.Dataplane, announcetest.Fake).
type Dataplane interface {
	Add(ctx context.Context, a announce.Address) error
	Remove(ctx context.Context, ip netip.Addr) error
	Set(ctx context.Context, desired []announce.Address) error
}

// Plane records every Add and Remove in front of a node's data plane (its "kernel"). Cut
// models the process dying: from then on its calls change nothing, so what the kernel
// holds stays until its lifetime runs out. It is safe for concurrent use.
type Plane struct {
	node   string
	kernel Dataplane
	hist   *History
	onAdd  func(node string, ip netip.Addr)
	cut    atomic.Bool
}

// NewPlane wraps kernel for node, records calls in h and calls onAdd (if not nil) after
// every successful Add, while the VIP is in place: the moment two announcers could start.
func NewPlane(node string, kernel Dataplane, h *History, onAdd func(node string, ip netip.Addr)) *Plane {
	return &Plane{node: node, kernel: kernel, hist: h, onAdd: onAdd}
}

// Cut detaches the plane from the kernel: later calls return nil and do nothing.
func (p *Plane) Cut() { p.cut.Store(true) }

// Add installs the VIP in the kernel unless the plane is cut.
func (p *Plane) Add(ctx context.Context, a announce.Address) error {
	if p.cut.Load() {
		return nil
	}
	ev := Event{At: time.Now(), Node: p.node, Kind: KindAdd, VIP: a.IP, Until: a.Until}
	ev.Err = p.kernel.Add(ctx, a)
	if ev.Err == nil && p.onAdd != nil {
		p.onAdd(p.node, a.IP)
	}
	ev.Done = time.Now()
	p.hist.add(ev)
	return ev.Err
}

// Remove withdraws the VIP from the kernel unless the plane is cut.
func (p *Plane) Remove(ctx context.Context, ip netip.Addr) error {
	if p.cut.Load() {
		return nil
	}
	ev := Event{At: time.Now(), Node: p.node, Kind: KindRemove, VIP: ip}
	ev.Err = p.kernel.Remove(ctx, ip)
	ev.Done = time.Now()
	p.hist.add(ev)
	return ev.Err
}

// Set makes the kernel hold exactly desired unless the plane is cut (the sweep).
func (p *Plane) Set(ctx context.Context, desired []announce.Address) error {
	if p.cut.Load() {
		return nil
	}
	return p.kernel.Set(ctx, desired)
}
