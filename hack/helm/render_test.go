package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

const chartDir, deployDir = "../../charts/vipkeeper", "../../deploy"

// TestDeploy_IsTheRenderedChart fails when deploy/ differs from what the chart renders:
// run `make manifests` after changing the chart.
func TestDeploy_IsTheRenderedChart(t *testing.T) {
	files, err := Render(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(deployDir, rel))
		if err != nil {
			t.Errorf("deploy/%s: %v (run make manifests)", rel, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("deploy/%s differs from the rendered chart (run make manifests)", rel)
		}
	}
	on, _ := filepath.Glob(filepath.Join(deployDir, "*.yaml"))
	crds, _ := filepath.Glob(filepath.Join(deployDir, "crds", "*.yaml"))
	for _, p := range slices.Concat(on, crds) {
		rel, _ := filepath.Rel(deployDir, p)
		if _, ok := files[rel]; !ok {
			t.Errorf("deploy/%s is not rendered from the chart (run make manifests)", rel)
		}
	}
}

func TestChart_PassesHelmLint(t *testing.T) {
	if err := Lint(chartDir); err != nil {
		t.Error(err)
	}
}

func TestChart_ValuesReachTheManifests(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{
		"metrics":   map[string]any{"enabled": false},
		"image":     map[string]any{"digest": "sha256:0123"},
		"timing":    map[string]any{"leaseDuration": "5s", "renewDeadline": "3s", "retryPeriod": "1s"},
		"agent":     map[string]any{"nodeSelector": map[string]any{"role": "edge"}},
		"pools":     []any{map[string]any{"name": "lan", "spec": map[string]any{"addresses": []any{"198.51.100.64/27"}}}},
		"namespace": map[string]any{"name": "lb", "create": false},
	}
	out, err := renderOne(ch, Output{Values: vals, Keep: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- --metrics-addr=", "ghcr.io/vipkeeper/vipkeeper@sha256:0123", `value: "5s"`,
		"role: edge", "kubernetes.io/os: linux", "kind: VIPPool", "name: lan", "namespace: lb"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered chart lacks %q", want)
		}
	}
	for _, absent := range []string{"kind: Namespace", "name: vipkeeper-metrics", "kind: ServiceMonitor"} {
		if strings.Contains(out, absent) {
			t.Errorf("rendered chart has %q although it is off", absent)
		}
	}
}

// The chart's default turns the ride-through on: its timing, its key Secret (random,
// 32 bytes), the key's mount and the peer channel's settings.
func TestChart_RideThroughIsOnByDefault(t *testing.T) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderOne(ch, Output{Keep: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`value: "2s"`, `value: "1.2s"`, `value: "400ms"`, "kind: Secret", "name: vipkeeper-peer-keys",
		"VIPKEEPER_PEER_KEY_DIR", "mountPath: /etc/vipkeeper/peer-keys", "fieldPath: status.hostIP", `value: ":9474"`} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered chart lacks %q", want)
		}
	}
	own, err := renderOne(ch, Output{Keep: func(string) bool { return true },
		Values: map[string]any{"rideThrough": map[string]any{"existingSecret": "mine"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(own, "kind: Secret") || !strings.Contains(own, "secretName: mine") {
		t.Errorf("with existingSecret the chart must mount that Secret and create none")
	}
}
