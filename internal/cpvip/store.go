package cpvip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// localShare is the part of an attempt's time the local API server gets before a release
// or read falls back to a peer: a dead server refuses at once, a hung one must not eat the
// whole attempt.
const localShare = 2

// forbiddenHintEvery spaces the log line that explains a 403.
const forbiddenHintEvery = 30 * time.Second

// peerStores returns Lease stores on the other control-plane nodes' API servers.
type peerStores interface {
	Stores() []daemon.LeaseStore
}

// store is the daemon's Lease store in control-plane mode. Create, acquire and renew go
// to the local kube-apiserver only: a node whose own API server is down cannot become or
// stay the holder. A release (the core issues it only after the VIP was withdrawn, and
// conditions it on the resourceVersion) and a read may fall back to a peer's API server
// when the local one fails transiently, so a successor takes over at once.
type store struct {
	local daemon.LeaseStore
	peers peerStores // nil: no fallback
	log   *slog.Logger

	mu       sync.Mutex
	hintedAt time.Time
}

var _ daemon.LeaseStore = (*store)(nil)

// Get reads the Lease, from a peer if the local API server fails transiently.
func (s *store) Get(ctx context.Context, name string) (*coordv1.Lease, error) {
	l, err := s.local.Get(s.localCtx(ctx), name)
	if !s.fallBack(err) {
		return l, s.hint(err)
	}
	for _, p := range s.peers.Stores() {
		if pl, perr := p.Get(ctx, name); lease.Classify(perr) != election.ClassTransient {
			return pl, perr
		}
	}
	return l, err
}

// Write writes the Lease; only a release may go to a peer.
func (s *store) Write(ctx context.Context, name string, op election.Op, token string, base *coordv1.Lease) (*coordv1.Lease, error) {
	if op != election.OpRelease {
		l, err := s.local.Write(ctx, name, op, token, base)
		return l, s.hint(err)
	}
	l, err := s.local.Write(s.localCtx(ctx), name, op, token, base)
	if !s.fallBack(err) {
		return l, s.hint(err)
	}
	for _, p := range s.peers.Stores() {
		pl, perr := p.Write(ctx, name, op, token, base)
		if lease.Classify(perr) != election.ClassTransient {
			if perr == nil {
				s.log.Info("released the vip lease through a peer api server", "lease", name, "local_err", err)
			}
			return pl, perr
		}
	}
	return l, err
}

// localCtx bounds the local attempt to a share of ctx's time when a peer may follow.
func (s *store) localCtx(ctx context.Context) context.Context {
	dl, ok := ctx.Deadline()
	if s.peers == nil || !ok {
		return ctx
	}
	c, cancel := context.WithTimeout(ctx, time.Until(dl)/localShare)
	context.AfterFunc(c, cancel) // released with ctx or at its own deadline
	return c
}

func (s *store) fallBack(err error) bool {
	return s.peers != nil && err != nil && lease.Classify(err) == election.ClassTransient
}

// hint explains a 403 in the log, at most every forbiddenHintEvery: the classic trap of
// kubeadm >= 1.29, whose admin.conf has no RBAC until kubeadm init has finished.
func (s *store) hint(err error) error {
	if !apierrors.IsForbidden(err) {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.hintedAt) < forbiddenHintEvery {
		return err
	}
	s.hintedAt = time.Now()
	s.log.Error("the kubeconfig's user may not use Leases here; on kubeadm >= 1.29 the first node must run "+
		"with super-admin.conf during kubeadm init (admin.conf is bound only afterwards); see docs/control-plane.md", "err", err)
	return err
}
