package pool

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// clusterRules and leaseRules are all the allocator needs (plus Event creation for the
// daemon's recorder, not exercised here: the test records Events in memory). The
// deployment's RBAC must grant at least these; doc.go lists them too.
var (
	clusterRules = []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{v1alpha1.Group}, Resources: []string{"vippools"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{v1alpha1.Group}, Resources: []string{"vippools/status"}, Verbs: []string{"update"}},
	}
	leaseRules = []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
	}
)

func TestAllocator_WorksWithOnlyTheDocumentedRBACRules(t *testing.T) {
	h := newHarness(t)
	h.grant("allocator")
	rc, err := shared.Env(t).ServiceAccountConfig(t.Context(), h.ns, "allocator")
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 100, 200
	name := h.pool("p", "203.0.113.64/29")
	h.startAs(rc, 1)
	h.service("web")
	h.eventually("web gets .65 as the service account", h.annotation("web", "203.0.113.65"))
	h.eventually("pool status written as the service account", func(ctx context.Context) error {
		return h.poolCounts(ctx, name, 1, 5)
	})
}

// grant binds clusterRules (cluster-wide) and leaseRules (in the namespace) to the
// ServiceAccount.
func (h *harness) grant(sa string) {
	h.t.Helper()
	ctx, rbac := h.t.Context(), h.cs.RbacV1()
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: h.ns, Name: sa}}
	name := "vipkeeper-allocator-" + h.ns
	must := func(_ any, err error) {
		if err != nil {
			h.t.Fatalf("grant RBAC: %v", err)
		}
	}
	must(rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: clusterRules}, metav1.CreateOptions{}))
	must(rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}, metav1.CreateOptions{}))
	must(rbac.Roles(h.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "leases"}, Rules: leaseRules}, metav1.CreateOptions{}))
	must(rbac.RoleBindings(h.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "leases"}, Subjects: subject,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "leases"}}, metav1.CreateOptions{}))
	h.t.Cleanup(func() {
		_ = rbac.ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = rbac.ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}
