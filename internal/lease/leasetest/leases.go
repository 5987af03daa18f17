package leasetest

import (
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var leasesGVR = coordv1.SchemeGroupVersion.WithResource("leases")

// WithLeaseSemantics adds, for Leases, what kube-apiserver does and the fake does not, on
// top of WithOptimisticConcurrency (call that first): a merge patch carrying
// metadata.resourceVersion applies only to that version (409 otherwise); a JSON patch whose
// test operation fails is 422 Invalid; DELETE of a Lease with finalizers only sets its
// deletionTimestamp; a patch that removes the last finalizer of such a Lease deletes it.
// The real kube-apiserver behaves so (internal/lease's tests against it show it). It
// includes WithOptimisticConcurrency.
func WithLeaseSemantics(cs *fake.Clientset) {
	next := withConcurrency(cs)
	cs.PrependReactor("patch", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		out, err := patchLease(cs, a.(k8stesting.PatchAction), next)
		return true, out, err
	})
	cs.PrependReactor("delete", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		if pre := da.GetDeleteOptions().Preconditions; pre != nil && pre.ResourceVersion != nil {
			if err := check(cs, da.GetResource(), da.GetNamespace(), da.GetName(), *pre.ResourceVersion); err != nil {
				return true, nil, err
			}
		}
		cur, err := getLease(cs, da.GetNamespace(), da.GetName())
		if err != nil || len(cur.Finalizers) == 0 {
			return false, nil, nil // a plain delete
		}
		if cur.DeletionTimestamp == nil {
			now := metav1.Now()
			cur.DeletionTimestamp, cur.ResourceVersion = &now, next()
			return true, nil, cs.Tracker().Update(leasesGVR, cur, cur.Namespace)
		}
		return true, nil, nil
	})
}

func getLease(cs *fake.Clientset, ns, name string) (*coordv1.Lease, error) {
	o, err := cs.Tracker().Get(leasesGVR, ns, name)
	if err != nil {
		return nil, err
	}
	return o.(*coordv1.Lease).DeepCopy(), nil
}

func patchLease(cs *fake.Clientset, pa k8stesting.PatchAction, next func() string) (runtime.Object, error) {
	cur, err := getLease(cs, pa.GetNamespace(), pa.GetName())
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	patched, err := applyPatch(pa, js, cur.ResourceVersion)
	if err != nil {
		return nil, err
	}
	var l coordv1.Lease
	if err := json.Unmarshal(patched, &l); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	l.ResourceVersion = cur.ResourceVersion
	if l.DeletionTimestamp != nil && len(l.Finalizers) == 0 {
		return &l, cs.Tracker().Delete(leasesGVR, l.Namespace, l.Name)
	}
	l.ResourceVersion = next()
	return &l, cs.Tracker().Update(leasesGVR, &l, l.Namespace)
}

func applyPatch(pa k8stesting.PatchAction, js []byte, rv string) ([]byte, error) {
	gr := schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	switch pa.GetPatchType() {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(pa.GetPatch())
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(js)
		if err != nil {
			return nil, apierrors.NewInvalid(schema.GroupKind{Group: gr.Group, Kind: "Lease"}, pa.GetName(), nil)
		}
		return out, nil
	case types.MergePatchType:
		var pre struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(pa.GetPatch(), &pre); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if r := pre.Metadata.ResourceVersion; r != "" && r != rv {
			return nil, apierrors.NewConflict(gr, pa.GetName(), errStale{have: rv, want: r})
		}
		return jsonpatch.MergePatch(js, pa.GetPatch())
	}
	return nil, apierrors.NewBadRequest(fmt.Sprintf("patch type %s not supported by leasetest", pa.GetPatchType()))
}
