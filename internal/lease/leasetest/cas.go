// Package leasetest gives client-go's fake clientset the one behaviour vipkeeper's safety
// rests on and the fake lacks: optimistic concurrency on resourceVersion (client-go#1385,
// kubernetes#68460). Without it a stale Update succeeds and a test of the elector proves
// nothing.
package leasetest

import (
	"strconv"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// WithOptimisticConcurrency makes every create stamp a fresh resourceVersion, every update
// and delete with a resourceVersion fail with 409 unless it matches the stored one, and every
// successful update bump it, as kube-apiserver does. It covers all resources.
func WithOptimisticConcurrency(cs *fake.Clientset) { withConcurrency(cs) }

func withConcurrency(cs *fake.Clientset) func() string {
	var rv atomic.Int64
	next := func() string { return strconv.FormatInt(rv.Add(1), 10) }
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject()
		if m, err := meta.Accessor(obj); err == nil {
			m.SetResourceVersion(next())
		}
		return false, nil, nil
	})
	cs.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ua := a.(k8stesting.UpdateAction)
		m, err := meta.Accessor(ua.GetObject())
		if err != nil {
			return false, nil, nil
		}
		if err := check(cs, ua.GetResource(), ua.GetNamespace(), m.GetName(), m.GetResourceVersion()); err != nil {
			return true, nil, err
		}
		m.SetResourceVersion(next())
		return false, nil, nil
	})
	cs.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		pre := da.GetDeleteOptions().Preconditions
		if pre == nil || pre.ResourceVersion == nil {
			return false, nil, nil
		}
		if err := check(cs, da.GetResource(), da.GetNamespace(), da.GetName(), *pre.ResourceVersion); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	return next
}

// check compares want with the stored resourceVersion; an empty want is unconditional.
func check(cs *fake.Clientset, gvr schema.GroupVersionResource, ns, name, want string) error {
	cur, err := cs.Tracker().Get(gvr, ns, name)
	if err != nil {
		return err // NotFound passes through as the API would answer
	}
	m, err := meta.Accessor(cur)
	if err != nil || want == "" || m.GetResourceVersion() == want {
		return nil
	}
	return apierrors.NewConflict(gvr.GroupResource(), name,
		errStale{have: m.GetResourceVersion(), want: want})
}

type errStale struct{ have, want string }

func (e errStale) Error() string {
	return "the object has been modified; stored resourceVersion " + e.have + ", request had " + e.want
}
