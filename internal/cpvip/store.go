package cpvip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/election"
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

// Get reads a record, from a peer if the local API server fails transiently.
func (s *store) Get(ctx context.Context, ref election.Ref) (election.Record, election.ErrClass, error) {
	rec, class, err := s.local.Get(s.localCtx(ctx), ref)
	if !s.fallBack(class) {
		return rec, class, s.hint(err)
	}
	for _, p := range s.peers.Stores() {
		if prec, pclass, perr := p.Get(ctx, ref); pclass != election.ClassTransient {
			return prec, pclass, perr
		}
	}
	return rec, class, err
}

// Do writes a record; only a release may go to a peer (of a VIP, after its withdrawal, or
// the resignation of our presence), both conditioned so that the server carrying them
// does not matter.
func (s *store) Do(ctx context.Context, w election.Write) (election.Record, election.ErrClass, error) {
	if w.Op != election.OpRelease {
		rec, class, err := s.local.Do(ctx, w)
		return rec, class, s.hint(err)
	}
	rec, class, err := s.local.Do(s.localCtx(ctx), w)
	if !s.fallBack(class) {
		return rec, class, s.hint(err)
	}
	for _, p := range s.peers.Stores() {
		prec, pclass, perr := p.Do(ctx, w)
		if pclass != election.ClassTransient {
			if perr == nil {
				s.log.Info("released through a peer api server", "lease", w.Ref.String(), "local_err", err)
			}
			return prec, pclass, perr
		}
	}
	return rec, class, err
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

func (s *store) fallBack(class election.ErrClass) bool {
	return s.peers != nil && class == election.ClassTransient
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
