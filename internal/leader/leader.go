package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Runnable is work that runs only while this replica leads. Run returns when ctx (the
// term) ends; if it returns earlier it is started again after RestartDelay, within the term.
type Runnable interface {
	Run(ctx context.Context) error
}

// RunnableFunc adapts a function to Runnable.
type RunnableFunc func(ctx context.Context) error

// Run calls f.
func (f RunnableFunc) Run(ctx context.Context) error { return f(ctx) }

// Named gives a runnable a name for logs.
type Named struct {
	Name string
	Runnable
}

// Config configures an Elector.
type Config struct {
	Leases    coordinationv1.LeasesGetter
	Namespace string // of the Lease
	Name      string // of the Lease
	Identity  string // this replica (its Pod name)
	// Timing of the election (--lease-duration, --renew-deadline, --retry-period).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Runnables start together at the start of each term.
	Runnables []Named
	// RestartDelay is how long a runnable that returned early waits before it runs again (1 s).
	RestartDelay time.Duration
	Metrics      prometheus.Registerer // optional
	Logger       *slog.Logger          // optional
}

// Validate reports what is missing or inconsistent.
func (c Config) Validate() error {
	var errs []error
	if c.Leases == nil || c.Namespace == "" || c.Name == "" || c.Identity == "" {
		errs = append(errs, errors.New("leader: Leases, Namespace, Name and Identity are required"))
	}
	if !(c.LeaseDuration > c.RenewDeadline && float64(c.RenewDeadline) > 1.2*float64(c.RetryPeriod) && c.RetryPeriod > 0) {
		errs = append(errs, fmt.Errorf("leader: need lease duration (%s) > renew deadline (%s) > 1.2 x retry period (%s) > 0",
			c.LeaseDuration, c.RenewDeadline, c.RetryPeriod))
	}
	for i, r := range c.Runnables {
		if r.Runnable == nil {
			errs = append(errs, fmt.Errorf("leader: runnable %d (%q) is nil", i, r.Name))
		}
	}
	return errors.Join(errs...)
}

// Elector campaigns for the Lease and runs the runnables while it holds it.
type Elector struct {
	cfg     Config
	log     *slog.Logger
	m       metrics
	leading atomic.Bool
	started atomic.Bool
	terms   chan context.Context
}

// New checks cfg and returns an Elector; nothing runs before Run.
func New(cfg Config) (*Elector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RestartDelay <= 0 {
		cfg.RestartDelay = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := &Elector{cfg: cfg, log: cfg.Logger.With("lease", cfg.Namespace+"/"+cfg.Name, "holder", cfg.Identity),
		terms: make(chan context.Context)}
	if err := e.m.register(cfg.Metrics); err != nil {
		return nil, err
	}
	return e, nil
}

// Leading reports whether a term of this replica is being served now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx ends. It may be called once.
func (e *Elector) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("leader: Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { e.serveTerms(ctx) })
	return e.campaign(ctx)
}

func (e *Elector) campaign(ctx context.Context) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name},
		Client:     e.cfg.Leases,
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.cfg.Identity},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: e.cfg.Name, ReleaseOnCancel: true,
			LeaseDuration: e.cfg.LeaseDuration, RenewDeadline: e.cfg.RenewDeadline, RetryPeriod: e.cfg.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: e.handOver,
				OnStoppedLeading: func() { e.log.Debug("election round ended") },
				OnNewLeader:      e.newLeader,
			},
		})
		if err != nil { // Validate checked the timings; nothing else can fail
			return fmt.Errorf("leader election on %s/%s: %w", e.cfg.Namespace, e.cfg.Name, err)
		}
		le.Run(ctx)
	}
	return nil
}

func (e *Elector) newLeader(id string) {
	if id != e.cfg.Identity {
		e.log.Info("another replica leads", "leader", id)
	}
}

// handOver passes a term to serveTerms. client-go runs it in a goroutine it does not wait
// for, so it must end when the term does.
func (e *Elector) handOver(term context.Context) {
	select {
	case e.terms <- term:
	case <-term.Done():
	}
}

// serveTerms serves one term at a time.
func (e *Elector) serveTerms(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case term := <-e.terms:
			e.log.Info("leading: starting the cluster writers", "runnables", len(e.cfg.Runnables))
			e.leading.Store(true)
			e.m.lead(true)
			e.serve(term)
			e.m.lead(false)
			e.leading.Store(false)
			e.log.Info("no longer leading: cluster writers stopped")
		}
	}
}

// serve runs every runnable until the term ends and waits for all of them.
func (e *Elector) serve(term context.Context) {
	var wg sync.WaitGroup
	for _, r := range e.cfg.Runnables {
		wg.Go(func() { e.keepRunning(term, r) })
	}
	wg.Wait()
}

func (e *Elector) keepRunning(term context.Context, r Named) {
	for {
		err := r.Run(term)
		if term.Err() != nil {
			return
		}
		e.log.Error("cluster writer stopped early; restarting it", "runnable", r.Name, "err", err)
		select {
		case <-term.Done():
			return
		case <-time.After(e.cfg.RestartDelay):
		}
	}
}
