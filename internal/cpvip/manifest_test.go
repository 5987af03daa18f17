package cpvip

import (
	"bytes"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// manifestFor runs the generator's command line, as a user would.
func manifestFor(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := ManifestMain(append([]string{"static-pod"}, args...), &out, &errOut); code != 0 {
		t.Fatalf("manifest static-pod %v: exit %d: %s", args, code, errOut.String())
	}
	return out.Bytes()
}

func TestStaticPod_MatchesGoldenAndParsesBackAsPod(t *testing.T) {
	got := manifestFor(t, "--vip=198.51.100.5", "--interface=eth0", "--kubeconfig=/etc/kubernetes/super-admin.conf")
	golden := filepath.Join("testdata", "static-pod.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./internal/cpvip -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("manifest differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(got, &pod); err != nil {
		t.Fatalf("parse the manifest back as a Pod: %v", err)
	}
	checkPod(t, &pod, "/etc/kubernetes/super-admin.conf")
}

func checkPod(t *testing.T, pod *corev1.Pod, kubeconfig string) {
	t.Helper()
	s := pod.Spec
	if pod.Kind != "Pod" || pod.Namespace != "kube-system" || !s.HostNetwork || s.PriorityClassName != "system-node-critical" {
		t.Errorf("kind %q namespace %q hostNetwork %v priorityClass %q", pod.Kind, pod.Namespace, s.HostNetwork, s.PriorityClassName)
	}
	if len(s.Containers) != 1 || len(s.Volumes) != 1 {
		t.Fatalf("%d containers, %d volumes: want 1 and 1", len(s.Containers), len(s.Volumes))
	}
	c := s.Containers[0]
	caps := c.SecurityContext.Capabilities
	if !slices.Equal(caps.Add, []corev1.Capability{"NET_ADMIN", "NET_RAW"}) || !slices.Equal(caps.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("capabilities add %v drop %v: want NET_ADMIN, NET_RAW only", caps.Add, caps.Drop)
	}
	if c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
		t.Error("privileged")
	}
	v := s.Volumes[0].HostPath
	if v == nil || v.Path != kubeconfig || v.Type == nil || *v.Type != corev1.HostPathFile {
		t.Errorf("volume %+v: want hostPath %s of type File", s.Volumes[0], kubeconfig)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != kubeconfig || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("mounts %+v: want %s read-only", c.VolumeMounts, kubeconfig)
	}
	if c.Args[0] != "control-plane" || !slices.Contains(c.Args, "--kubeconfig="+kubeconfig) || !slices.Contains(c.Args, "--vip=198.51.100.5") {
		t.Errorf("args %v", c.Args)
	}
}

// The container's arguments must be what `vipkeeper control-plane` accepts.
func TestStaticPod_ArgumentsParseAsControlPlaneFlags(t *testing.T) {
	var pod corev1.Pod
	if err := yaml.Unmarshal(manifestFor(t, "--vip=2001:db8::5", "--kubeconfig=/etc/kubernetes/admin.conf"), &pod); err != nil {
		t.Fatal(err)
	}
	checkArgs(t, pod.Spec.Containers[0].Args)
}

func checkArgs(t *testing.T, args []string) {
	t.Helper()
	var cfg Config
	fs := flag.NewFlagSet("control-plane", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Bind(fs)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("args %v: %v", args, err)
	}
	cfg.NodeName = "cp-1"
	if err := cfg.Validate(); err != nil {
		t.Errorf("args %v: %v", args, err)
	}
}

func TestManifestMain_RejectsBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"static-pod"},                     // no VIP
		{"static-pod", "--vip=10.0.0.300"}, // not an address
		{"static-pod", "--vip=198.51.100.5", "--kubeconfig=admin.conf"},
		{"static-pod", "--vip=198.51.100.5", "--lease-duration=3s"}, // lease - renew < 2s
		{"daemonset"},
	} {
		var out, errOut bytes.Buffer
		if code := ManifestMain(args, &out, &errOut); code != 2 || out.Len() > 0 {
			t.Errorf("%v: exit %d, stdout %q; want 2 and nothing on stdout", args, code, out.String())
		}
		if errOut.Len() == 0 {
			t.Errorf("%v: no explanation on stderr", args)
		}
	}
}

func TestConfig_DefaultsAreValid(t *testing.T) {
	var cfg Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.Bind(fs)
	if err := fs.Parse([]string{"--vip=198.51.100.5", "--node-name=cp-1"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if cfg.VIP != netip.MustParseAddr("198.51.100.5") || cfg.Namespace != "kube-system" || cfg.Server != "https://127.0.0.1:6443" {
		t.Errorf("%+v", cfg)
	}
}
