package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic/fake"
	kfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/leader"
	"github.com/vipkeeper/vipkeeper/internal/peer"
	"github.com/vipkeeper/vipkeeper/internal/pool"
)

// objects decodes every object of a multi-document YAML file of deploy/.
func objects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile("../../deploy/" + file)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for range 200 {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	t.Fatalf("%s: too many objects", file)
	return nil
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func TestDeploy_HasWhatAnOperatorNeeds(t *testing.T) {
	objs := objects(t, "vipkeeper.yaml")
	ns := find(objs, "Namespace", "vipkeeper-system")
	if ns == nil || ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace vipkeeper-system with pod-security.kubernetes.io/enforce=privileged: got %v", ns)
	}
	for _, w := range []struct{ kind, name string }{{"DaemonSet", "vipkeeper-agent"}, {"Deployment", "vipkeeper-controller"}} {
		o := find(objs, w.kind, w.name)
		if o == nil {
			t.Errorf("no %s %s", w.kind, w.name)
			continue
		}
		sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "spec", "nodeSelector")
		if sel["kubernetes.io/os"] != "linux" {
			t.Errorf("%s %s: nodeSelector %v lacks kubernetes.io/os: linux", w.kind, w.name, sel)
		}
	}
	if svc := find(objs, "Service", "vipkeeper-metrics"); svc == nil {
		t.Error("no metrics Service")
	}
	mon := objects(t, "monitoring.yaml")
	rule := find(mon, "PrometheusRule", "vipkeeper")
	if rule == nil || find(mon, "ServiceMonitor", "vipkeeper") == nil || find(mon, "ConfigMap", "vipkeeper-dashboard") == nil {
		t.Fatal("monitoring.yaml lacks the PrometheusRule, the ServiceMonitor or the dashboard ConfigMap")
	}
	for _, alert := range []string{"VIPKeeperVIPWithoutHolder", "VIPKeeperPresenceRenewFailing", "VIPKeeperLeadershipFlapping"} {
		if exprOf(rule, alert) == "" {
			t.Errorf("PrometheusRule has no alert %s", alert)
		}
	}
}

// TestDeploy_AlertsAndDashboardUseMetricsThatExist fails when an alert or a dashboard
// panel names a vipkeeper_ metric that no role registers.
func TestDeploy_AlertsAndDashboardUseMetricsThatExist(t *testing.T) {
	have := registeredNames(t)
	mon := objects(t, "monitoring.yaml")
	var exprs []string
	groups, _, _ := unstructured.NestedSlice(find(mon, "PrometheusRule", "vipkeeper").Object, "spec", "groups")
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			exprs = append(exprs, r.(map[string]any)["expr"].(string))
		}
	}
	dash, _, _ := unstructured.NestedString(find(mon, "ConfigMap", "vipkeeper-dashboard").Object, "data", "vipkeeper.json")
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(dash), &d); err != nil || len(d.Panels) == 0 {
		t.Fatalf("dashboard JSON: %v (%d panels)", err, len(d.Panels))
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	re := regexp.MustCompile(`vipkeeper_[a-z_]+`)
	for _, e := range exprs {
		for _, name := range re.FindAllString(e, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
			if !have[name] && !have[base] {
				t.Errorf("%q uses %s, which no role registers", e, name)
			}
		}
	}
}

func exprOf(rule *unstructured.Unstructured, alert string) string {
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			if m := r.(map[string]any); m["alert"] == alert {
				e, _ := m["expr"].(string)
				return e
			}
		}
	}
	return ""
}

// registeredNames are the metric names both roles register.
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := &describing{names: map[string]bool{}}
	daemon.NewMetrics(reg)
	announcementCounter(reg)
	keys := t.TempDir()
	if err := os.WriteFile(filepath.Join(keys, "k1"), bytes.Repeat([]byte{7}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	ch, err := peer.New(peer.Config{Node: "n", Listen: "127.0.0.1:0", KeyDir: keys, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, func(peer.Message, netip.AddrPort) {}) }()
	t.Cleanup(func() { cancel(); <-done }) // Run closes the socket
	cs := kfake.NewClientset()
	if _, err := leader.New(leader.Config{Leases: cs.CoordinationV1(), Namespace: "ns", Name: "l", Identity: "i",
		LeaseDuration: 15e9, RenewDeadline: 10e9, RetryPeriod: 2e9, Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.New(pool.Config{Client: cs, Dynamic: fake.NewSimpleDynamicClient(runtime.NewScheme()),
		Recorder: record.NewFakeRecorder(1), Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	return reg.names
}

// describing is a Registerer that records the names of what is registered.
type describing struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d *describing) Unregister(prometheus.Collector) bool { return true }
