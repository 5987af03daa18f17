package model

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// search is one spin run: the model compiled with defs, searched depth-first, or
// breadth-first (shortest counterexample) when bfs is set. A breadth-first search is a
// mutant's, which ends at its first counterexample: its pan is compiled without
// optimization, which costs less than it would save.
type search struct {
	name string
	defs []string // -D flags for spin's preprocessor
	bfs  bool
}

// outcome is what pan reported.
type outcome struct {
	errors    int
	states    int64
	depth     int
	truncated string // why the search stopped early ("" when it did not)
	trail     []string
	took      time.Duration
}

// cmdTimeout bounds each of spin, gcc and pan.
const cmdTimeout = 3 * time.Minute

// needTools skips the test when spin or gcc is missing (hack/deps.sh installs them), or
// fails it when $CI is set.
func needTools(t *testing.T) {
	t.Helper()
	for _, b := range []string{"spin", "gcc"} {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing (hack/deps.sh installs spin and gcc): %v", b, err)
			}
			t.Skipf("%s missing; run `bash hack/deps.sh` (installs spin and gcc): %v", b, err)
		}
	}
}

// runSearch compiles ride.pml with s.defs in a fresh directory, runs pan, and replays the
// counterexample if there is one.
func runSearch(t *testing.T, s search) outcome {
	t.Helper()
	dir := t.TempDir()
	model, err := os.ReadFile("ride.pml")
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ride.pml"), model, 0o644); err != nil {
		t.Fatalf("copy model: %v", err)
	}
	mode, opt := "-DNOREDUCE", "-O1" // one process: partial-order reduction has nothing to do
	if s.bfs {
		mode, opt = "-DBFS", "-O0"
	}
	start := time.Now()
	command(t, dir, "spin", append(append([]string{"-a"}, s.defs...), "ride.pml")...)
	command(t, dir, "gcc", opt, "-DSAFETY", mode, "-DMEMLIM=2048", "-o", "pan", "pan.c")
	out := parsePan(command(t, dir, "./pan", "-m100000", "-w22"))
	out.took = time.Since(start)
	if out.errors > 0 {
		replay := command(t, dir, "spin", append(append([]string{"-t"}, s.defs...), "ride.pml")...)
		out.trail = trailSteps(replay)
	}
	return out
}

// command runs one program in dir and returns its combined output; pan reports errors in
// its output, so only a failure to run at all fails the test here.
func command(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil && !isPanExit(name, err) {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

// isPanExit accepts pan's non-zero exit status after a completed search that found errors.
func isPanExit(name string, err error) bool {
	_, exited := err.(*exec.ExitError)
	return exited && name == "./pan"
}

var (
	reErrors = regexp.MustCompile(`errors: (\d+)`)
	reStates = regexp.MustCompile(`(\d+) states, stored`)
	reDepth  = regexp.MustCompile(`depth reached (\d+)`)
)

// parsePan reads pan's report.
func parsePan(s string) outcome {
	var o outcome
	o.errors = atoi(reErrors.FindStringSubmatch(s), -1)
	o.states = int64(atoi(reStates.FindStringSubmatch(s), -1))
	o.depth = atoi(reDepth.FindStringSubmatch(s), -1)
	switch {
	case strings.Contains(s, "max search depth too small"):
		o.truncated = "max search depth too small"
	case strings.Contains(s, "reached -DMEMLIM bound"):
		o.truncated = "memory limit reached"
	case o.errors < 0 || o.states < 0:
		o.truncated = "no report from pan:\n" + s
	}
	return o
}

func atoi(m []string, def int) int {
	if len(m) < 2 {
		return def
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return def
	}
	return n
}

// reStep matches the model's own printouts in a replay: "1: revokes 0", "tick: ...".
var reStep = regexp.MustCompile(`^(tick|[0-9]): `)

// trailSteps keeps the steps of a replayed counterexample, up to spin's verdict.
func trailSteps(replay string) []string {
	var steps []string
	for _, l := range strings.Split(replay, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case reStep.MatchString(l):
			steps = append(steps, l)
		case strings.Contains(l, "assertion violated"):
			return append(steps, l)
		}
	}
	return steps
}

func (o outcome) String() string {
	return fmt.Sprintf("%d states, depth %d, errors %d, %v", o.states, o.depth, o.errors, o.took.Round(10*time.Millisecond))
}

func TestParsePan_ReadsCountsAndTruncation(t *testing.T) {
	full := "State-vector 68 byte, depth reached 145, errors: 0\n  1772637 states, stored\n"
	cases := []struct {
		name, out string
		want      outcome
	}{
		{"complete", full, outcome{errors: 0, states: 1772637, depth: 145}},
		{"depth", "error: max search depth too small\n" + full,
			outcome{errors: 0, states: 1772637, depth: 145, truncated: "max search depth too small"}},
		{"memory", "pan: reached -DMEMLIM bound\n" + full,
			outcome{errors: 0, states: 1772637, depth: 145, truncated: "memory limit reached"}},
		{"error", "State-vector 68 byte, depth reached 11, errors: 1\n   319601 states, stored\n",
			outcome{errors: 1, states: 319601, depth: 11}},
	}
	for _, c := range cases {
		if got := parsePan(c.out); got.errors != c.want.errors || got.states != c.want.states ||
			got.depth != c.want.depth || got.truncated != c.want.truncated {
			t.Errorf("%s: parsePan = %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := parsePan("spin: error"); !strings.HasPrefix(got.truncated, "no report from pan") {
		t.Errorf("garbage: truncated = %q, want no report", got.truncated)
	}
}
