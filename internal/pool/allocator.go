package pool

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Allocator runs in every daemon; only the one holding the LeaseName Lease allocates.
type Allocator struct {
	cfg     Config
	log     *slog.Logger
	started atomic.Bool
	synced  atomic.Bool // knows another leader, or finished its first pass as leader
	leading atomic.Bool // a term is being served
	terms   chan context.Context
}

// New checks cfg and builds an Allocator; nothing runs before Run.
func New(cfg Config) (*Allocator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Allocator{cfg: cfg, log: cfg.Logger.With("lease", LeaseName, "holder", cfg.Identity),
		terms: make(chan context.Context)}, nil
}

// HasSynced reports whether the allocator has joined the election and either sees
// another leader or, leading, has finished its first pass over synced caches.
func (a *Allocator) HasSynced() bool { return a.synced.Load() }

// IsLeader reports whether this allocator is serving a leadership term now.
func (a *Allocator) IsLeader() bool { return a.leading.Load() }

// Run campaigns for the allocator Lease and allocates while it holds it, until ctx ends.
// It may be called once.
func (a *Allocator) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("pool: Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.serveTerms(ctx) })
	a.elect(ctx)
	return nil
}

// elect runs client-go leader election until ctx ends. Losing is never final: it
// campaigns again.
func (a *Allocator) elect(ctx context.Context) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: a.cfg.Namespace, Name: LeaseName},
		Client:     a.cfg.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: a.cfg.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: LeaseName, ReleaseOnCancel: true,
			LeaseDuration: a.cfg.LeaseDuration, RenewDeadline: a.cfg.RenewDeadline, RetryPeriod: a.cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: a.handOver,
				OnStoppedLeading: func() { a.log.Debug("allocator election round ended") },
				OnNewLeader:      a.newLeader,
			},
		})
		if err != nil { // Validate checked the timings; nothing else can fail
			a.log.Error("allocator election", "err", err)
			return
		}
		le.Run(ctx)
	}
}

func (a *Allocator) newLeader(id string) {
	if id != a.cfg.Identity {
		a.synced.Store(true)
		a.log.Info("another daemon allocates", "leader", id)
	}
}

// handOver passes a term to serveTerms. client-go runs it in a goroutine it does not
// wait for, so it must end when the term does.
func (a *Allocator) handOver(term context.Context) {
	select {
	case a.terms <- term:
	case <-term.Done():
	}
}

// serveTerms serves one term at a time, so two terms of this daemon never write at once.
func (a *Allocator) serveTerms(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case term := <-a.terms:
			a.log.Info("elected to allocate")
			a.leading.Store(true)
			newTerm(a).serve(term)
			a.leading.Store(false)
			a.log.Info("no longer allocating")
		}
	}
}
