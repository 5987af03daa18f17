package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRun_ArgumentsThatAreNoCommandGetTheUsageAndExitCode2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no subcommand", nil, 2, "usage: vipkeeper"},
		{"unknown subcommand", []string{"bogus-subcommand"}, 2, `unknown subcommand "bogus-subcommand"`},
		{"a flag instead of a subcommand", []string{"--node-name=a"}, 2, "unknown subcommand"},
		{"stray positional argument", []string{"agent", "--node-name=a", "extra"}, 2, `unexpected arguments ["extra"]`},
		{"stray argument to the controller", []string{"controller", "now"}, 2, `unexpected arguments ["now"]`},
		{"stray argument to status", []string{"status", "x"}, 2, `unexpected arguments ["x"]`},
		{"bad flag", []string{"agent", "--no-such-flag"}, 2, "flag provided but not defined"},
		{"invalid configuration", []string{"agent", "--node-name=a", "--lease-duration=3s"}, 2, "--lease-duration"},
		{"bad output format", []string{"status", "-o", "yaml"}, 2, `-o "yaml"`},
		{"version takes no arguments", []string{"version", "x"}, 2, "unexpected arguments"},
		{"help", []string{"help"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("NODE_NAME", "")
			var out, errOut bytes.Buffer
			if code := run("vipkeeper", tc.args, &out, &errOut); code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.err) {
				t.Errorf("stderr %q does not say %q", errOut.String(), tc.err)
			}
			if tc.code == 2 && tc.name != "bad flag" && tc.name != "invalid configuration" &&
				!strings.Contains(errOut.String(), "usage") && !strings.Contains(errOut.String(), "Usage") {
				t.Errorf("no usage text on stderr:\n%s", errOut.String())
			}
		})
	}
}

func TestRun_VersionIsTheStampedOne(t *testing.T) {
	old := version
	version = "v9.8.7"
	t.Cleanup(func() { version = old })
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out bytes.Buffer
		if code := run("vipkeeper", args, &out, &bytes.Buffer{}); code != 0 || out.String() != "vipkeeper v9.8.7\n" {
			t.Errorf("%v: exit %d, output %q", args, code, out.String())
		}
	}
}

func TestRun_AsKubectlPluginTheDefaultIsStatus(t *testing.T) {
	var errOut bytes.Buffer
	if code := run("/usr/local/bin/kubectl-vipkeeper", []string{"-o", "yaml"}, &bytes.Buffer{}, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "vipkeeper status") {
		t.Errorf("exit %d, stderr %q: want status's own usage error", code, errOut.String())
	}
}

// TestBinary_LinksNeitherTheTestBedNorTheLab keeps the production binary free of code that
// starts etcd and kube-apiserver (issue 12): the lab is cmd/vipkeeper-lab.
func TestBinary_LinksNeitherTheTestBedNorTheLab(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "testing", strings.HasPrefix(dep, "testing/"),
			strings.HasSuffix(dep, "/internal/testenv"), strings.HasSuffix(dep, "/internal/lab"),
			strings.Contains(dep, "/internal/") && strings.HasSuffix(dep, "test"):
			t.Errorf("cmd/vipkeeper links %s", dep)
		}
	}
}
