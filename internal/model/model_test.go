package model

import (
	"os"
	"strings"
	"testing"
)

// deep selects the larger bounds of docs/ride-through-model.md (a minute, a few hundred
// megabytes): set VIPKEEPER_MODEL_DEEP=1. CI runs the small ones.
var deep = os.Getenv("VIPKEEPER_MODEL_DEEP") != ""

// The real model's bounds: link changes (ENV), the rider's crash and restart, a release.
var (
	crashBound   = []string{"-DENV=3", "-DMAXCRASH=1"}
	restartBound = []string{"-DENV=1", "-DMAXCRASH=1", "-DRESTARTS=1"}
	releaseBound = []string{"-DENV=2", "-DMAXREL=1"}
)

// configs are the real model's full searches, each with rule 2 as the issue states it
// (a wait restarts on regaining sight) and as internal/election builds it (-DVOUCHRESTART:
// it restarts at the node's attestation).
func configs() []search {
	base := []search{
		{name: "links3-crash", defs: crashBound},
		{name: "links1-crash-restart", defs: restartBound},
		{name: "links2-release", defs: releaseBound},
	}
	if deep {
		base = []search{
			{name: "links4-crash", defs: []string{"-DENV=4", "-DMAXCRASH=1"}},
			{name: "links2-crash-restart", defs: []string{"-DENV=2", "-DMAXCRASH=1", "-DRESTARTS=1"}},
			{name: "links3-release", defs: []string{"-DENV=3", "-DMAXREL=1"}},
		}
	}
	out := base
	for _, s := range base {
		out = append(out, search{name: "as-built-" + s.name, defs: append([]string{"-DVOUCHRESTART"}, s.defs...)})
	}
	return out
}

// mutants each break one rule and must yield a counterexample within env link changes
// (the fewest that their shortest counterexample needs; no crash).
var mutants = []struct {
	name, rule string
	env        string
	defs       []string
}{
	{"NORESTART", "rule 2 as built: an attestation does not restart the node's waits", "3", []string{"-DVOUCHRESTART"}},
	{"NOSIGHT", "rule 2: a wait counts blind time and does not restart on regaining sight", "3", nil},
	{"ANYONE", "rule 3: one attestation (with the holder's own, a majority of three) suffices", "2", nil},
	{"NOWAIT", "presence: a revocation without waiting LD", "0", nil},
	{"DPBOUND", "rule 3: DP at its bound (DP window with kernel slack = the shortest LD)", "3", nil},
	{"LATE", "rule 3: attestations accepted after the holder's addresses lapsed", "2", nil},
	{"RELAYLATE", "rule 4: a relayed renewal counted from its reply, not from the ask", "1", nil},
	{"JOINLD", "rule 5: an unacknowledged node waits LD, not LD + X", "2", nil},
	{"NOCAP", "rule 5: the ride-through is not capped at X", "2", nil},
	{"ACKNOW", "rule 5: a wait that began before the holder acknowledged the node ends after LD", "3", nil},
}

// covers are situations the real model must reach at its CI bounds, so that its "no error"
// is not for want of them: each fails an assertion when reached.
var covers = []struct {
	name, what string
	bound      []string
}{
	{"RIDEOVER", "a VIP is taken over from a rider whose addresses stood past its fence on attestations", crashBound},
	{"RELAY", "a relayed renewal keeps the rider's addresses up", crashBound},
	{"UNACKED", "an unacknowledged node revokes the rider after LD + X", crashBound},
	{"CRASHOVER", "a VIP is taken over from a rider that crashed mid-ride", crashBound},
	{"REACQUIRE", "the restarted rider re-acquires its earlier incarnation's record", restartBound},
}

func TestRideModel_NoTwoAnnouncersAtEveryBound(t *testing.T) {
	needTools(t)
	for _, c := range configs() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := runSearch(t, c)
			t.Logf("%s (%s): %v", c.name, strings.Join(c.defs, " "), o)
			if o.truncated != "" {
				t.Fatalf("search incomplete: %s", o.truncated)
			}
			if o.errors != 0 {
				t.Fatalf("two announcers of one VIP:\n%s", strings.Join(o.trail, "\n"))
			}
			if o.states < 10000 {
				t.Fatalf("only %d states: the model does not get going", o.states)
			}
		})
	}
}

func TestRideModel_EveryMutantFindsACounterexample(t *testing.T) {
	needTools(t)
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			defs := append([]string{"-DM_" + m.name, "-DENV=" + m.env}, m.defs...)
			mustReach(t, search{name: m.name, defs: defs, bfs: true}, m.rule)
		})
	}
}

func TestRideModel_ReachesRidesRelaysCrashesAndHandovers(t *testing.T) {
	needTools(t)
	for _, c := range covers {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			mustReach(t, search{name: c.name, defs: append([]string{"-DC_" + c.name}, c.bound...), bfs: true}, c.what)
		})
	}
}

// mustReach searches s breadth-first and fails unless it ends in the model's assertion; it
// logs the shortest run that gets there.
func mustReach(t *testing.T, s search, what string) {
	t.Helper()
	o := runSearch(t, s)
	t.Logf("%s (%s): %v", s.name, what, o)
	if o.errors < 1 {
		t.Fatalf("%s (%s) was not reached (%s): the model no longer exercises it", s.name, what, o.truncated)
	}
	if len(o.trail) == 0 || !strings.Contains(o.trail[len(o.trail)-1], "assertion violated") {
		t.Fatalf("%s: the replay does not end in an assertion:\n%s", s.name, strings.Join(o.trail, "\n"))
	}
	t.Logf("shortest run:\n%s", strings.Join(o.trail, "\n"))
}
