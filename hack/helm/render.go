package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// ReleaseName is the release deploy/ is rendered as (`helm install vipkeeper ...`).
const ReleaseName = "vipkeeper"

// Output is one file of deploy/: the chart rendered with Values, keeping the templates for
// which Keep is true.
type Output struct {
	File   string
	Values map[string]any
	Keep   func(template string) bool
}

func isMonitoring(t string) bool { return strings.Contains(t, "/templates/monitoring/") }

// Outputs are the files of deploy/ (besides crds/, copied from the chart's crds/):
// vipkeeper.yaml with the chart's defaults, monitoring.yaml with every monitoring object on.
//
// vipkeeper.yaml is rendered without the ride-through: a key committed to the repository
// would be everyone's key. docs/install.md turns it on for a static install.
var Outputs = []Output{
	{File: "vipkeeper.yaml", Keep: func(t string) bool { return !isMonitoring(t) },
		Values: map[string]any{"rideThrough": map[string]any{"enabled": false}}},
	{File: "monitoring.yaml", Keep: isMonitoring, Values: map[string]any{"metrics": map[string]any{
		"serviceMonitor": map[string]any{"enabled": true},
		"prometheusRule": map[string]any{"enabled": true},
		"dashboard":      map[string]any{"enabled": true},
	}}},
}

const header = "# Rendered from charts/vipkeeper by `make manifests`; do not edit (edit the chart).\n"

// Render returns every file of deploy/ by its path relative to deploy/.
func Render(chartDir string) (map[string][]byte, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	files := map[string][]byte{}
	for _, o := range Outputs {
		text, err := renderOne(ch, o)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", o.File, err)
		}
		files[o.File] = []byte(text)
	}
	for _, crd := range ch.CRDObjects() {
		files[filepath.Join("crds", filepath.Base(crd.Filename))] = crd.File.Data
	}
	return files, nil
}

func renderOne(ch chartType, o Output) (string, error) {
	opts := common.ReleaseOptions{Name: ReleaseName, Namespace: "default", Revision: 1, IsInstall: true}
	vals, err := util.ToRenderValues(ch, o.Values, opts, common.DefaultCapabilities)
	if err != nil {
		return "", err
	}
	out, err := engine.Render(ch, vals)
	if err != nil {
		return "", err
	}
	kept := map[string]string{}
	for name, text := range out {
		if o.Keep(name) && strings.HasSuffix(name, ".yaml") && strings.TrimSpace(text) != "" {
			kept[name] = text
		}
	}
	_, manifests, err := releaseutil.SortManifests(kept, nil, releaseutil.InstallOrder)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(header)
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, strings.TrimSpace(m.Content))
	}
	return b.String(), nil
}

// WriteManifests renders the chart into out, removing YAML files there that the chart no
// longer renders.
func WriteManifests(chartDir, out string) error {
	files, err := Render(chartDir)
	if err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(out, "*.yaml"))
	oldCRDs, _ := filepath.Glob(filepath.Join(out, "crds", "*.yaml"))
	for _, p := range slices.Concat(old, oldCRDs) {
		rel, _ := filepath.Rel(out, p)
		if _, ok := files[rel]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	for rel, data := range files {
		p := filepath.Join(out, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Lint runs helm's chart linter with the default values and with every monitoring object
// on; any error or warning fails.
func Lint(chartDir string) error {
	var errs []error
	for _, o := range Outputs {
		res := lint.RunAll(chartDir, o.Values, "default")
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				errs = append(errs, fmt.Errorf("lint (%s values): %w", o.File, m))
			}
		}
	}
	return errors.Join(errs...)
}
