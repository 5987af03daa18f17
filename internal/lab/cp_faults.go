package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// holderPoll is how often the Lease holder is read (through the first API server that answers).
const holderPoll = 500 * time.Millisecond

// ID is the lab's random tag.
func (l *CPLab) ID() string { return l.plan.tag() }

// Dir holds the announcers' logs and kubeconfigs; Cluster().Dir() the control plane's.
func (l *CPLab) Dir() string { return l.dir }

// Config is the lab's configuration, defaults filled in.
func (l *CPLab) Config() CPConfig { return l.cfg }

// Cluster is the control plane: one etcd member and one kube-apiserver per node.
func (l *CPLab) Cluster() *testenv.Cluster { return l.cluster }

// Nodes are the announcer processes, node-1 first.
func (l *CPLab) Nodes() []*Node { return l.nodes }

// Timeline is what the ARP prober saw and the Lease said.
func (l *CPLab) Timeline() *Timeline { return l.timeline }

// Reader is the client reading through https://VIP:6443.
func (l *CPLab) Reader() *Reader { return l.reader }

// Mark records a labelled instant in the Timeline.
func (l *CPLab) Mark(label string) time.Time { return l.timeline.Mark(label) }

// pollHolders records the VIP Lease's holder every holderPoll until ctx ends.
func (l *CPLab) pollHolders(ctx context.Context) {
	t := time.NewTicker(holderPoll)
	defer t.Stop()
	for {
		if h, err := l.leaseHolder(ctx); ctx.Err() == nil {
			l.timeline.RecordHolders(time.Now(), map[netip.Addr]string{l.cfg.VIP: h}, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaseHolder reads the VIP Lease through the first API server that answers.
func (l *CPLab) leaseHolder(ctx context.Context) (string, error) {
	var errs []error
	for _, cs := range l.admin {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		ls, err := cs.CoordinationV1().Leases(metav1.NamespaceSystem).Get(cctx, lease.Name(l.cfg.VIP), metav1.GetOptions{})
		cancel()
		if err == nil {
			if ls.Spec.HolderIdentity == nil {
				return "", nil
			}
			return *ls.Spec.HolderIdentity, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// Answering returns the node that alone answered the latest ARP round for the VIP.
func (l *CPLab) Answering() (int, bool) {
	seg, ok := l.timeline.Current(l.cfg.VIP)
	if !ok || len(seg.Nodes) != 1 {
		return 0, false
	}
	for i := 1; i <= l.cfg.Nodes; i++ {
		if NodeName(i) == seg.Nodes[0] {
			return i, true
		}
	}
	return 0, false
}

// WaitHolder waits until one node has answered alone for stable, in a run of answers that
// began after after (zero: any), and a read through the VIP succeeded in that run; it
// returns that node (1-based).
func (l *CPLab) WaitHolder(ctx context.Context, stable time.Duration, after time.Time) (int, error) {
	for {
		if i, ok := l.Answering(); ok {
			seg, _ := l.timeline.Current(l.cfg.VIP)
			if !seg.Start.Before(after) && time.Since(seg.Start) >= stable && l.readOK(seg.Start) {
				return i, nil
			}
		}
		select {
		case <-ctx.Done():
			seg, _ := l.timeline.Current(l.cfg.VIP)
			return 0, fmt.Errorf("no single stable answerer for %s with reads through it: %w (now answering: %v)",
				l.cfg.VIP, ctx.Err(), seg.Nodes)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (l *CPLab) readOK(since time.Time) bool {
	for _, r := range l.reader.Results(since, time.Time{}) {
		if r.OK {
			return true
		}
	}
	return false
}

// KillAPIServer SIGKILLs node i's kube-apiserver (1-based).
func (l *CPLab) KillAPIServer(i int) {
	l.Mark(fmt.Sprintf("SIGKILL kube-apiserver of %s", NodeName(i)))
	l.cluster.StopAPIServer(context.Background(), i-1, syscall.SIGKILL)
}

// RestartAPIServer stops node i's kube-apiserver gracefully (SIGTERM, SIGKILL after
// ctx), if it runs, and starts it again, returning once it is ready.
func (l *CPLab) RestartAPIServer(ctx context.Context, i int) error {
	l.Mark(fmt.Sprintf("SIGTERM kube-apiserver of %s", NodeName(i)))
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	l.cluster.StopAPIServer(sctx, i-1, syscall.SIGTERM)
	cancel()
	return l.StartAPIServer(ctx, i)
}

// StartAPIServer starts node i's kube-apiserver and waits until it is ready.
func (l *CPLab) StartAPIServer(ctx context.Context, i int) error {
	l.Mark(fmt.Sprintf("start kube-apiserver of %s", NodeName(i)))
	err := l.cluster.StartAPIServer(ctx, i-1)
	l.Mark(fmt.Sprintf("kube-apiserver of %s ready", NodeName(i)))
	return err
}

// SetEtcdFrozen freezes (SIGSTOP) or thaws (SIGCONT) node i's etcd member.
func (l *CPLab) SetEtcdFrozen(i int, frozen bool) error {
	sig, what := syscall.SIGCONT, "thaw"
	if frozen {
		sig, what = syscall.SIGSTOP, "freeze"
	}
	l.Mark(fmt.Sprintf("%s etcd of %s", what, NodeName(i)))
	return l.cluster.SignalEtcd(i-1, sig)
}

// SetPower powers node i off (every process of it frozen, both cables pulled) or back on.
func (l *CPLab) SetPower(ctx context.Context, i int, on bool) error {
	n := l.nodes[i-1]
	sig, what := syscall.SIGCONT, "power on"
	if !on {
		sig, what = syscall.SIGSTOP, "power off"
	}
	l.Mark(fmt.Sprintf("%s %s", what, NodeName(i)))
	errs := []error{n.SetDataLink(ctx, on), n.SetAPILink(ctx, on), l.cluster.SignalEtcd(i-1, sig),
		l.cluster.SignalAPIServer(i-1, sig), signalGroup(n, sig)}
	return errors.Join(errs...)
}

// signalGroup signals the announcer's whole process group (keepalived forks its VRRP child).
func signalGroup(n *Node, sig syscall.Signal) error {
	pid := n.Pid()
	if pid == 0 {
		return fmt.Errorf("%s: %w", n.name, ErrNotRunning)
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		return fmt.Errorf("signal %v to the announcer of %s: %w", sig, n.name, err)
	}
	return nil
}
