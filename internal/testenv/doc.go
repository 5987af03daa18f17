// Package testenv runs a real etcd and kube-apiserver on loopback for tests, with a
// FaultProxy between them so a test can freeze, slow down or cut the API server's path to
// etcd, and can kill and restart the API server.
//
// Invariant: every process and temporary directory an Env creates is gone once Stop returns.
// The children also die with the test binary (Pdeathsig), even on a panic or a -timeout.
//
// The binaries come from bin/ at the repository root (`make bins`, i.e. hack/build.sh) or
// from $VIPKEEPER_BIN. Without them tests skip, unless $CI is set, where they fail.
//
// StartCluster (cluster*.go) runs a control plane of several nodes instead, as kubeadm's
// stacked etcd builds it: an etcd member and a kube-apiserver per node (each node run
// through a command prefix such as ip netns exec), serving certificates of its own CA.
//
// A package shares one control plane through TestMain:
//
//	var shared = testenv.NewShared(testenv.Options{})
//
//	func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
//
//	func TestSomething(t *testing.T) {
//		env := shared.Env(t)
//		cs := kubernetes.NewForConfigOrDie(env.AdminConfig())
//		...
//	}
package testenv
