package informer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

var refused = fmt.Errorf("dial tcp 203.0.113.1:6443: %w", syscall.ECONNREFUSED)

func transient(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// downAPI refuses every list and watch until up, then lists nothing and watches for ever.
type downAPI struct {
	mu    sync.Mutex
	up    time.Time
	calls []time.Time
}

func (a *downAPI) call() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, time.Now())
	if time.Now().Before(a.up) {
		return refused
	}
	return nil
}

func (a *downAPI) ListWithContext(context.Context, metav1.ListOptions) (runtime.Object, error) {
	if err := a.call(); err != nil {
		return nil, err
	}
	return &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
}

// WatchWithContext serves a watch-list (the reflector's streaming initial list, as
// kube-apiserver 1.37 does): the initial events end with a bookmark.
func (a *downAPI) WatchWithContext(_ context.Context, o metav1.ListOptions) (watch.Interface, error) {
	if err := a.call(); err != nil {
		return nil, err
	}
	w := watch.NewFakeWithChanSize(1, false)
	if o.SendInitialEvents != nil && *o.SendInitialEvents {
		end := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1",
			Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}
		w.Action(watch.Bookmark, end)
	}
	return w, nil
}

// After an outage of 40 s an informer over a Patient lister syncs within one retry
// interval of the API answering; a plain informer's backoff would have grown to 25.6 s.
func TestPatient_AnInformerSyncsWithinAnIntervalOfTheAPIComingBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &downAPI{up: time.Now().Add(40 * time.Second)}
		inf := New(api, nil, transient, &corev1.ConfigMap{})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go inf.RunWithContext(ctx)
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			t.Fatal("never synced")
		}
		late := time.Since(api.up)
		t.Logf("synced %v after the API came back, after %d lists", late, len(api.calls))
		if late > 3*Interval/2 {
			t.Errorf("synced %v after the API came back, want within %v", late, 3*Interval/2)
		}
		for i := 1; i < len(api.calls); i++ {
			if gap := api.calls[i].Sub(api.calls[i-1]); gap < Interval/2 || gap > 3*Interval/2 {
				t.Errorf("list %d came %v after the one before, want within [%v, %v]", i, gap, Interval/2, 3*Interval/2)
			}
		}
		cancel()
		synctest.Wait()
	})
}

// A 403 is not retried inside the call: the reflector handles it (and logs it).
func TestPatient_ForbiddenPassesThroughAtOnce(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "", errors.New("RBAC"))
	calls := 0
	lw := &cache.ListWatch{ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
		calls++
		return nil, forbidden
	}}
	_, err := Patient(lw, transient).ListWithContext(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || calls != 1 {
		t.Errorf("got %v after %d calls, want the 403 after 1", err, calls)
	}
}
