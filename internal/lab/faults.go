package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// readyPoll is how often WaitReady asks the daemons.
const readyPoll = 200 * time.Millisecond

// ID is the lab's random tag ("vkl-1a2b3c"): the prefix of its namespaces and interfaces.
func (l *Lab) ID() string { return l.plan.tag() }

// Dir is the lab's temp dir: daemon logs (<node>.log) and kubeconfigs. Close removes it.
func (l *Lab) Dir() string { return l.dir }

// Config is the lab's configuration, defaults filled in.
func (l *Lab) Config() Config { return l.cfg }

// Started is when Start was called.
func (l *Lab) Started() time.Time { return l.started }

// Env is the control plane (etcd, fault proxy, kube-apiserver).
func (l *Lab) Env() *testenv.Env { return l.env }

// Admin is a system:masters client of the lab's API server; it never crosses a node's
// management link, so cutting a node off the API does not cut the lab off.
func (l *Lab) Admin() kubernetes.Interface { return l.admin }

// Timeline is what the client saw and the API said.
func (l *Lab) Timeline() *Timeline { return l.timeline }

// Prober probes the VIPs; CreateService adds to what it watches.
func (l *Lab) Prober() *Prober { return l.prober }

// Nodes are the lab's nodes, node-1 first.
func (l *Lab) Nodes() []*Node { return l.nodes }

// Controller is the process of the controller role (vipkeeper controller), in the host
// namespace; its faults are the same as a node daemon's.
func (l *Lab) Controller() *Node { return l.ctrl }

// Node returns the node called name, or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// ServiceOf returns the name of the Service that asked for vip ("" if none of the lab's).
func (l *Lab) ServiceOf(vip netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.services[vip.Unmap()]
}

// Err returns the errors of the background loops (prober, lease poller), if any failed.
func (l *Lab) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bgErr
}

// Mark records a labelled instant in the Timeline.
func (l *Lab) Mark(label string) time.Time { return l.timeline.Mark(label) }

// FreezeEtcd holds every byte between kube-apiserver and etcd until ThawEtcd: requests
// that need etcd hang (kube-apiserver answers them with 504 after its timeout).
func (l *Lab) FreezeEtcd() {
	l.Mark("freeze etcd")
	l.env.Proxy().Freeze()
}

// ThawEtcd ends FreezeEtcd (and DelayEtcd); held bytes are forwarded in order.
func (l *Lab) ThawEtcd() {
	l.env.Proxy().Resume()
	l.Mark("thaw etcd")
}

// DelayEtcd delays every chunk between kube-apiserver and etcd by d.
func (l *Lab) DelayEtcd(d time.Duration) {
	l.Mark(fmt.Sprintf("delay etcd %v", d))
	l.env.Proxy().Delay(d)
}

// KillAPIServer kills kube-apiserver (SIGKILL) and waits until it is gone.
func (l *Lab) KillAPIServer() {
	l.Mark("kill kube-apiserver")
	l.env.KillAPIServer()
}

// RestartAPIServer starts kube-apiserver again (killing it first if it runs) and returns
// once it is ready.
func (l *Lab) RestartAPIServer(ctx context.Context) error {
	l.Mark("restart kube-apiserver")
	err := l.env.RestartAPIServer(ctx)
	l.Mark("kube-apiserver ready")
	return err
}

// WaitReady waits until every daemon (but the spare nodes') answers /readyz (its informers
// synced). It fails at once when a daemon has exited (restart it first), and when ctx ends.
func (l *Lab) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		var errs []error
		for _, n := range append([]*Node{l.ctrl}, l.nodes...) {
			if n.spare {
				continue // started by a scenario's steps, which wait for it themselves
			}
			if !n.Running() {
				st, _ := n.LastExit()
				return fmt.Errorf("daemon on %s is not running (%v); its log ends:\n%s", n.name, st, n.LogTail(20))
			}
			errs = append(errs, n.Ready(ctx))
		}
		err := errors.Join(errs...)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("daemons not ready: %w (last: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}
