package leader

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/internal/lease/leasetest"
)

// counting counts the replicas running it at once and the runs.
type counting struct {
	running, max, runs atomic.Int32
}

func (c *counting) Run(ctx context.Context) error {
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for m := c.max.Load(); n > m && !c.max.CompareAndSwap(m, n); m = c.max.Load() {
	}
	c.runs.Add(1)
	<-ctx.Done()
	return nil
}

func elector(t *testing.T, cs *fake.Clientset, id string, reg prometheus.Registerer, r ...Named) *Elector {
	t.Helper()
	e, err := New(Config{Leases: cs.CoordinationV1(), Namespace: "ns", Name: "lock", Identity: id,
		LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second,
		Runnables: r, Metrics: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestElector_RunnablesRunOnOneReplicaAndMoveWhenItStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset()
		leasetest.WithOptimisticConcurrency(cs)
		work := &counting{}
		reg := prometheus.NewRegistry()
		a := elector(t, cs, "a", reg, Named{"work", work})
		b := elector(t, cs, "b", nil, Named{"work", work})
		actx, stopA := context.WithCancel(t.Context())
		done := make(chan struct{}, 2)
		go func() { _ = a.Run(actx); done <- struct{}{} }()
		time.Sleep(2 * time.Second)
		bctx, stopB := context.WithCancel(t.Context())
		go func() { _ = b.Run(bctx); done <- struct{}{} }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !a.Leading() || b.Leading() || work.running.Load() != 1 {
			t.Fatalf("a leading %v, b leading %v, running %d; want a alone", a.Leading(), b.Leading(), work.running.Load())
		}
		if got := testutil.ToFloat64(a.m.leading); got != 1 {
			t.Errorf("vipkeeper_controller_leading = %v on the leader", got)
		}
		stopA() // releases the Lease: b takes over at its next retry
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if !b.Leading() || work.running.Load() != 1 || work.max.Load() != 1 {
			t.Errorf("after a stopped: b leading %v, running %d, most at once %d", b.Leading(), work.running.Load(), work.max.Load())
		}
		stopB()
		<-done
		<-done
	})
}

func TestElector_ARunnableThatReturnsEarlyIsRestartedWithinTheTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset()
		leasetest.WithOptimisticConcurrency(cs)
		var runs atomic.Int32
		flaky := RunnableFunc(func(context.Context) error { runs.Add(1); return errors.New("boom") })
		e := elector(t, cs, "a", nil, Named{"flaky", flaky})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { _ = e.Run(ctx); close(done) }()
		time.Sleep(5500 * time.Millisecond)
		cancel()
		<-done
		if n := runs.Load(); n < 4 || n > 6 {
			t.Errorf("flaky ran %d times in about 5 s, want about one a second", n)
		}
	})
}

func TestConfig_ValidateNamesWhatIsWrong(t *testing.T) {
	err := Config{LeaseDuration: time.Second, RenewDeadline: time.Second, Runnables: []Named{{Name: "x"}}}.Validate()
	for _, want := range []string{"Identity", "lease duration", `"x"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
}
