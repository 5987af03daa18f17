package pool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// writeServices writes each assignment as a JSON merge patch carrying the
// resourceVersion it was decided from, so the API server refuses it (409) if the Service
// changed since: a decision is never applied to a state it was not made for. A patch,
// unlike an Update of the cached object, cannot drop fields this client does not know.
func (t *term) writeServices(ctx context.Context, as []Assignment, byName map[types.NamespacedName]*corev1.Service) bool {
	ok := true
	for _, a := range as {
		if ctx.Err() != nil {
			return false
		}
		base := byName[a.Service]
		if base == nil {
			continue
		}
		ok = t.writeService(ctx, a, base) && ok
	}
	return ok
}

func (t *term) writeService(ctx context.Context, a Assignment, base *corev1.Service) bool {
	patch := annotationPatch(base.ResourceVersion, a)
	ctx, cancel := context.WithTimeout(ctx, t.a.cfg.WriteTimeout)
	defer cancel()
	got, err := t.a.cfg.Client.CoreV1().Services(base.Namespace).Patch(ctx, base.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: FieldManager})
	log := t.log.With("service", a.Service.String(), "vips", a.IPs)
	switch {
	case apierrors.IsNotFound(err):
		return true
	case apierrors.IsConflict(err), errors.Is(err, context.Canceled):
		log.Debug("Service not written; deciding again", "err", err)
		return false
	case err != nil:
		log.Warn("write allocated VIPs", "err", fmt.Errorf("patch service %s: %w", a.Service, err))
		return false
	}
	t.overlay[a.Service] = written{base: base.ResourceVersion, svc: got}
	log.Info("allocated VIPs written", "reason", a.Reason, "msg", a.Message)
	if a.Reason != "" {
		t.a.cfg.Recorder.Event(serviceRef(got), corev1.EventTypeNormal, a.Reason, a.Message)
	}
	return true
}

// annotationPatch is a JSON merge patch setting a's annotations, conditioned on rv.
func annotationPatch(rv string, a Assignment) []byte {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{ // maps of strings always marshal
		"resourceVersion": rv,
		"annotations":     map[string]any{AnnotationAllocatedIPs: orNull(a.IPs), AnnotationAllocatedPools: orNull(a.Pools)},
	}})
	return patch
}

// orNull makes an empty value delete the key in a merge patch.
func orNull(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// writePools writes each pool's status if it changed, retrying on conflict.
func (t *term) writePools(ctx context.Context, want map[string]v1alpha1.VIPPoolStatus) bool {
	ok := true
	for name, st := range want {
		if ctx.Err() != nil {
			return false
		}
		if err := t.writePool(ctx, name, st); err != nil && !apierrors.IsNotFound(err) && !errors.Is(err, context.Canceled) {
			t.log.Warn("write VIPPool status", "pool", name, "err", err)
			ok = false
		}
	}
	return ok
}

func (t *term) writePool(ctx context.Context, name string, want v1alpha1.VIPPoolStatus) error {
	obj, err := t.pools.Get(name)
	if err != nil {
		return err
	}
	cur, _ := obj.(*unstructured.Unstructured)
	ctx, cancel := context.WithTimeout(ctx, t.a.cfg.WriteTimeout)
	defer cancel()
	res := t.a.cfg.Dynamic.Resource(v1alpha1.Resource)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		next, changed, err := withStatus(cur, want)
		if err != nil || !changed {
			return err
		}
		_, err = res.UpdateStatus(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			if fresh, gerr := res.Get(ctx, name, metav1.GetOptions{}); gerr == nil {
				cur = fresh
			}
		}
		if err != nil {
			return fmt.Errorf("update status of VIPPool %s: %w", name, err)
		}
		return nil
	})
}

// withStatus returns u with want merged into its status, and whether that changes it.
// A pool whose spec changed since the decision is left alone: the next pass sees it.
func withStatus(u *unstructured.Unstructured, want v1alpha1.VIPPoolStatus) (*unstructured.Unstructured, bool, error) {
	if u == nil {
		return nil, false, nil
	}
	var vp v1alpha1.VIPPool
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &vp); err != nil {
		return nil, false, fmt.Errorf("convert VIPPool %s: %w", u.GetName(), err)
	}
	if vp.Generation != want.ObservedGeneration {
		return nil, false, nil
	}
	next := want
	next.Conditions = mergeConditions(vp.Status.Conditions, want.Conditions, vp.Generation)
	if equality.Semantic.DeepEqual(vp.Status, next) {
		return nil, false, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&next)
	if err != nil {
		return nil, false, fmt.Errorf("convert status of VIPPool %s: %w", u.GetName(), err)
	}
	out := u.DeepCopy()
	out.Object["status"] = m
	return out, true, nil
}

// mergeConditions sets want on a copy of cur; a condition keeps its lastTransitionTime
// while its status stays the same.
func mergeConditions(cur, want []metav1.Condition, generation int64) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(want))
	for _, c := range want {
		if old := meta.FindStatusCondition(cur, c.Type); old != nil {
			out = append(out, *old)
		}
		c.ObservedGeneration = generation
		meta.SetStatusCondition(&out, c)
	}
	return out
}

// emit records a Warning Event for each problem that was not there on the last pass.
func (t *term) emit(problems []Problem) {
	next := make(map[Problem]bool, len(problems))
	for _, p := range problems {
		next[p] = true
		if t.emitted[p] {
			continue
		}
		t.log.Info("allocation problem", "kind", p.Object.Kind, "namespace", p.Object.Namespace,
			"name", p.Object.Name, "reason", p.Reason, "msg", p.Message)
		t.a.cfg.Recorder.Event(t.ref(p.Object), corev1.EventTypeWarning, p.Reason, p.Message)
	}
	t.emitted = next
}

// ref references the object with its UID when cached, which `kubectl describe` needs.
func (t *term) ref(o Object) *corev1.ObjectReference {
	if o.Kind == KindPool {
		r := &corev1.ObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: KindPool, Name: o.Name}
		if obj, err := t.pools.Get(o.Name); err == nil {
			if m, err := meta.Accessor(obj); err == nil {
				r.UID = m.GetUID()
			}
		}
		return r
	}
	if svc, err := t.services.Services(o.Namespace).Get(o.Name); err == nil {
		return serviceRef(svc)
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: KindService, Namespace: o.Namespace, Name: o.Name}
}

func serviceRef(svc *corev1.Service) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: KindService, Namespace: svc.Namespace,
		Name: svc.Name, UID: svc.UID, ResourceVersion: svc.ResourceVersion}
}
