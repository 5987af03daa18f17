package testenv

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestEnv_AdminCreatesAndReadsALease(t *testing.T) {
	env := shared.Env(t)
	cs, ns := clientset(t, env.AdminConfig()), env.Namespace(t)
	created := createLease(t, cs, ns, "admin-lease", "node-a")
	got, err := cs.CoordinationV1().Leases(ns).Get(t.Context(), "admin-lease", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get lease %s/admin-lease: %v", ns, err)
	}
	if holderOf(got) != `"node-a"` || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("read back holder %s rv %s, want \"node-a\" rv %s",
			holderOf(got), got.ResourceVersion, created.ResourceVersion)
	}
}

func TestEnv_ServiceAccountTokenWorksAndRBACDeniesWhatIsNotGranted(t *testing.T) {
	env := shared.Env(t)
	ns := env.Namespace(t)
	cfg, err := env.ServiceAccountConfig(t.Context(), ns, "elector")
	if err != nil {
		t.Fatal(err)
	}
	sa := clientset(t, cfg)
	review, err := sa.AuthenticationV1().SelfSubjectReviews().Create(t.Context(),
		&authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("self subject review with the service-account token: %v", err)
	}
	if got, want := review.Status.UserInfo.Username, "system:serviceaccount:"+ns+":elector"; got != want {
		t.Errorf("token authenticates as %q, want %q", got, want)
	}
	_, err = sa.CoordinationV1().Leases(ns).List(t.Context(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("list leases without a grant: %v, want 403 Forbidden", err)
	}
	grantLeaseList(t, clientset(t, env.AdminConfig()), ns, "elector")
	eventually(t, defaultWait, "list leases after the grant", func(ctx context.Context) error {
		_, err := sa.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
		return err
	})
}

// grantLeaseList lets ServiceAccount ns/name list leases in ns; that the same call then
// passes shows the 403 came from RBAC.
func grantLeaseList(t *testing.T, admin kubernetes.Interface, ns, name string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lease-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"},
			Resources: []string{"leases"}, Verbs: []string{"list"}}},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lease-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: name}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEnv_LeasesSurviveAKilledAndRestartedAPIServer(t *testing.T) {
	env := shared.Env(t)
	cs, ns := clientset(t, env.AdminConfig()), env.Namespace(t)
	createLease(t, cs, ns, "restart", "node-a")
	env.KillAPIServer()
	_, err := cs.CoordinationV1().Leases(ns).Get(t.Context(), "restart", metav1.GetOptions{})
	var status apierrors.APIStatus
	if err == nil || errors.As(err, &status) {
		t.Fatalf("get with kube-apiserver killed: %v, want a connection error", err)
	}
	if err := env.RestartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := cs.CoordinationV1().Leases(ns).Get(t.Context(), "restart", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	if holderOf(got) != `"node-a"` {
		t.Errorf("holder after restart %s, want \"node-a\"", holderOf(got))
	}
}

func TestEnv_StopLeavesNoProcessAndNoTempDir(t *testing.T) {
	env := StartTest(t, Options{})
	groups := map[string]int{"etcd": env.etcd.pgid(), "kube-apiserver": env.apiserver.pgid()}
	env.Stop()
	env.Stop() // idempotent
	for name, pgid := range groups {
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s process group %d after Stop: kill -0 = %v, want ESRCH", name, pgid, err)
		}
	}
	if _, err := os.Stat(env.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp dir %s after Stop: %v, want it gone", env.dir, err)
	}
}
