package daemon

import (
	"context"
	"errors"
	"time"

	coordv1 "k8s.io/api/coordination/v1"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// exec runs actions in order, feeding results back into the core; the results' own
// actions run before the rest. It reports whether the core stopped.
func (r *runner) exec(ctx context.Context, acts []election.Action) bool {
	for len(acts) > 0 {
		a := acts[0]
		acts = append(r.do(ctx, a), acts[1:]...)
		if _, ok := a.(election.Stopped); ok {
			return true
		}
	}
	return false
}

// do executes one action and returns the actions the core answers with.
func (r *runner) do(ctx context.Context, a election.Action) []election.Action {
	switch a := a.(type) {
	case election.Write:
		return r.write(ctx, a)
	case election.Read:
		return r.read(ctx, a)
	case election.Announce:
		r.announce(ctx, a)
	case election.Withdraw:
		r.withdraw(ctx, a)
	}
	return nil
}

func (r *runner) write(ctx context.Context, w election.Write) []election.Action {
	cctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	start := time.Now()
	out, err := r.deps.leases.Write(cctx, r.name, w.Op, w.Token, r.base(w))
	class := lease.Classify(err)
	r.deps.metrics.leaseRequest(w.Op.String(), class.String(), time.Since(start))
	if err != nil {
		r.logResult(w.Op.String(), class, err)
	} else if w.Op == election.OpDelete {
		r.remember(nil, r.rv)
	} else {
		r.remember(out, out.ResourceVersion)
	}
	return r.el.Step(time.Now(), election.WriteDone{ID: w.ID, Record: lease.ToRecord(out), Class: class})
}

// base is the Lease object the core's write is conditioned on. The core knows records,
// the store needs the object; rebuild a minimal one if the newest object moved on.
func (r *runner) base(w election.Write) *coordv1.Lease {
	if w.Op == election.OpCreate {
		return nil
	}
	if r.known != nil && r.known.ResourceVersion == w.Base.RV {
		return r.known
	}
	l := &coordv1.Lease{}
	l.Name, l.Namespace, l.ResourceVersion = r.name, r.deps.namespace, w.Base.RV
	l.Spec.HolderIdentity = &w.Base.Holder
	l.Spec.LeaseTransitions = &w.Base.Transitions
	return l
}

func (r *runner) read(ctx context.Context, rd election.Read) []election.Action {
	cctx, cancel := context.WithTimeout(ctx, rd.Timeout)
	defer cancel()
	start := time.Now()
	l, err := r.deps.leases.Get(cctx, r.name)
	class := lease.Classify(err)
	r.deps.metrics.leaseRequest("read", class.String(), time.Since(start))
	if err != nil {
		r.logResult("read", class, err)
	} else if l == nil {
		r.remember(nil, r.rv)
		class = election.ClassNotFound
	} else {
		r.remember(l, l.ResourceVersion)
	}
	return r.el.Step(time.Now(), election.ReadDone{ID: rd.ID, Record: lease.ToRecord(l), Class: class})
}

func (r *runner) logResult(op string, class election.ErrClass, err error) {
	lvl := r.log.Debug
	if class == election.ClassPermanent {
		lvl = r.log.Error
		r.deps.notify.Problem(r.ip, r.currentWant().Services, "LeasePermissionDenied", err.Error())
	} else if class == election.ClassTransient {
		lvl = r.log.Warn
	}
	lvl("lease request failed", "op", op, "class", class.String(), "err", err)
}

func (r *runner) announce(ctx context.Context, a election.Announce) {
	// The runner withdraws at a.Until itself; the kernel lifetime is the fence for a frozen
	// or dead process and may run a little longer (kernelSlack), never into a successor's time.
	err := r.deps.plane.Add(ctx, announce.Address{IP: r.ip, Until: a.Until.Add(r.deps.kernelSlack)})
	if err != nil {
		// The Lease is held but the address is not in place: the VIP is dark here. The next
		// renew retries; the kernel lifetime of anything half-done still fences it.
		r.log.Error("announce failed", "err", err)
		r.deps.metrics.dataplaneError("add")
		return
	}
	if !r.announced {
		r.announced = true
		r.deps.metrics.setLeading(r.ip, true)
		r.log.Info("vip announced", "holder", r.deps.node, "until", time.Until(a.Until).Round(time.Second))
		r.deps.notify.Announced(r.ip, r.currentWant().Services)
	}
}

func (r *runner) withdraw(ctx context.Context, w election.Withdraw) {
	// Withdrawal must happen even when ctx is cancelled (shutdown): use a short private one.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := r.deps.plane.Remove(wctx, r.ip)
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Error("withdraw failed; the kernel lifetime still removes the address", "err", err)
		r.deps.metrics.dataplaneError("remove")
	}
	if r.announced {
		r.announced = false
		r.deps.metrics.setLeading(r.ip, false)
		r.deps.metrics.stepDown(w.Reason)
		r.log.Info("vip withdrawn", "reason", w.Reason)
		r.deps.notify.Withdrawn(r.ip, r.currentWant().Services, w.Reason)
	}
}

// abandon is the hard stop: the context ended before the core stopped. Take the address
// down anyway; the Lease runs out on its own.
func (r *runner) abandon() {
	r.withdraw(context.Background(), election.Withdraw{Reason: "shutdown deadline"})
}
