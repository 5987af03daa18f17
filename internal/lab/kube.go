package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

const (
	// tokenTTL: a lab may run for days; a one-hour token would turn into 401s.
	tokenTTL     = 7 * 24 * 3600
	fieldManager = "vipkeeper-lab"
)

// findRepoFile finds rel (like "deploy/vipkeeper.yaml") in the repository that holds the
// working directory or the running executable.
func findRepoFile(rel string) (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, start := range starts {
		for dir := start; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", fmt.Errorf("%s not found above %v", rel, starts)
}

// accounts are the ServiceAccounts the manifest's workloads run as.
type accounts struct {
	agent      types.NamespacedName // the DaemonSet's
	controller types.NamespacedName // the Deployment's
}

// applyManifest creates the CRDs in crds/ beside path, then every object of the
// multi-document YAML at path except the DaemonSet and the Deployment (no kubelet runs
// here; the lab runs their processes), and returns the ServiceAccounts those run as.
func applyManifest(ctx context.Context, rc *rest.Config, path string) (accounts, error) {
	var acc accounts
	crds, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "crds", "*.yaml"))
	for _, c := range append(crds, path) {
		objs, err := testenv.ApplyFile(ctx, rc, c, notWorkload)
		if err != nil {
			return acc, err
		}
		for _, u := range objs {
			acc.note(u)
		}
	}
	if acc.agent.Name == "" || acc.controller.Name == "" {
		return acc, fmt.Errorf("manifest %s: want a DaemonSet and a Deployment naming their serviceAccountName", path)
	}
	return acc, nil
}

func notWorkload(u *unstructured.Unstructured) bool {
	return u.GetKind() != "DaemonSet" && u.GetKind() != "Deployment"
}

// note records the ServiceAccount of a DaemonSet (agent) or Deployment (controller).
func (a *accounts) note(u *unstructured.Unstructured) {
	name, _, _ := unstructured.NestedString(u.Object, "spec", "template", "spec", "serviceAccountName")
	sa := types.NamespacedName{Namespace: u.GetNamespace(), Name: name}
	switch u.GetKind() {
	case "DaemonSet":
		a.agent = sa
	case "Deployment":
		a.controller = sa
	}
}

// serviceAccountToken requests a bound token for sa.
func serviceAccountToken(ctx context.Context, cs kubernetes.Interface, sa types.NamespacedName) (string, error) {
	ttl := int64(tokenTTL)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &ttl}}
	tr, err := cs.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s: %w", sa, err)
	}
	return tr.Status.Token, nil
}

// writeKubeconfig writes a kubeconfig for server with the CA and a bearer token.
func writeKubeconfig(path, server string, ca []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["vipkeeper"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "vipkeeper"}
	cfg.CurrentContext = "lab"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// createNode creates the Node object of a lab node, as a kubelet would register it (no
// kubelet runs, so it never turns Ready; the daemon does not look at that).
func createNode(ctx context.Context, cs kubernetes.Interface, n *Node) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name(), Labels: map[string]string{
			corev1.LabelHostname: n.Name(), corev1.LabelOSStable: "linux"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.IPv4().String()},
			{Type: corev1.NodeInternalIP, Address: n.IPv6().String()},
			{Type: corev1.NodeHostName, Address: n.Name()},
		}},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", n.Name(), err)
	}
	return nil
}
