package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// settleLimit bounds every wait for the lab to reach a state; a limit, not a target.
	settleLimit = 30 * time.Second
	// stableFor is how long one node must answer alone to count as "the" answer.
	stableFor = time.Second
)

// agreedHolder waits until exactly one node has answered vip for stableFor and the Lease
// names the same node, and returns it; it fails t with the timeline otherwise.
func agreedHolder(t *testing.T, l *Lab, vip netip.Addr) string {
	t.Helper()
	return agreedHolderOn(t, l, l.Timeline(), vip)
}

// agreedHolderOn is agreedHolder with the answers seen by another prober's timeline tl.
func agreedHolderOn(t *testing.T, l *Lab, tl *Timeline, vip netip.Addr) string {
	t.Helper()
	var node string
	ok := waitUntil(t, settleLimit, func() bool {
		cur, ok := tl.Current(vip)
		holder, _ := l.Timeline().Holder(vip)
		if !ok || len(cur.Nodes) != 1 || cur.Last.Sub(cur.Start) < stableFor || holder != cur.Nodes[0] {
			return false
		}
		node = holder
		return true
	})
	if !ok {
		t.Fatalf("%s: %v within %v:\n%s%v", vip, errNoAnswer, settleLimit, describe(l, vip), tl.Segments(vip))
	}
	return node
}

// describe prints vip's runs and Lease holders relative to the lab's start.
func describe(l *Lab, vip netip.Addr) string {
	var b strings.Builder
	rel := func(t time.Time) string { return t.Sub(l.Started()).Round(time.Millisecond).String() }
	for _, s := range l.Timeline().Segments(vip) {
		fmt.Fprintf(&b, "  %s..%s answered by %v (%d rounds)\n", rel(s.Start), rel(s.Last), s.Nodes, s.Count)
	}
	for _, h := range l.Timeline().Holders(vip) {
		fmt.Fprintf(&b, "  %s lease holder %q\n", rel(h.Start), h.Holder)
	}
	if err, since := l.Timeline().APIError(); err != nil {
		fmt.Fprintf(&b, "  lease reads failing since %s: %v\n", rel(since), err)
	}
	return b.String()
}

// noSplitBrain fails t if two nodes ever answered vip since since.
func noSplitBrain(t *testing.T, l *Lab, vip netip.Addr, since time.Time) Stats {
	t.Helper()
	st := Analyze(l.Timeline().Segments(vip), since, time.Time{})
	if st.SplitBrain > 0 {
		t.Errorf("%s: two or more nodes answered for %v:\n%s", vip, st.SplitBrain, describe(l, vip))
	}
	return st
}

func allNodes(l *Lab) []Endpoint {
	var eps []Endpoint
	for _, n := range l.Nodes() {
		eps = append(eps, Endpoint{Node: n.Name()})
	}
	return eps
}

// createAndTime creates a Service and logs when the client first got an answer.
func createAndTime(t *testing.T, l *Lab, spec ServiceSpec) time.Time {
	t.Helper()
	start := time.Now()
	if err := l.CreateService(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	return start
}

func logFirstAnswer(t *testing.T, l *Lab, vip netip.Addr, since time.Time) {
	t.Helper()
	if first, ok := FirstAnswer(l.Timeline().Segments(vip), since); ok {
		t.Logf("%s: first answer %v after the Service was created", vip, first.Sub(since).Round(time.Millisecond))
	}
}

func TestLab_ClusterServiceIsAnsweredByExactlyOneNodeThatHoldsTheLease(t *testing.T) {
	l := sharedLab(t)
	vip := VIP4(10)
	start := createAndTime(t, l, ServiceSpec{Name: "a-cluster", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)})
	node := agreedHolder(t, l, vip)
	logFirstAnswer(t, l, vip, start)
	st := noSplitBrain(t, l, vip, start)
	if len(st.Answered) != 1 || st.Answered[0] != node {
		t.Errorf("%s: answered by %v since creation, want only the holder %s:\n%s", vip, st.Answered, node, describe(l, vip))
	}
	if l.Node(node) == nil {
		t.Errorf("%s: answered by %q, which is no lab node", vip, node)
	}
}

func TestLab_LocalServiceFollowsItsOnlyEndpointToAnotherNode(t *testing.T) {
	l := sharedLab(t)
	vip := VIP4(11)
	start := createAndTime(t, l, ServiceSpec{Name: "b-local", VIPs: []netip.Addr{vip}, Local: true,
		Endpoints: []Endpoint{{Node: "node-2"}}})
	if node := agreedHolder(t, l, vip); node != "node-2" {
		t.Fatalf("%s: held by %s, want node-2, the only endpoint's node:\n%s", vip, node, describe(l, vip))
	}
	logFirstAnswer(t, l, vip, start)
	if st := noSplitBrain(t, l, vip, start); !slices.Equal(st.Answered, []string{"node-2"}) {
		t.Errorf("%s: answered by %v before the move, want only node-2", vip, st.Answered)
	}
	moved, err := l.MoveEndpoint(t.Context(), "b-local", "node-2", "node-3")
	if err != nil {
		t.Fatal(err)
	}
	var node string
	var after time.Duration
	if !waitUntil(t, settleLimit, func() (ok bool) {
		node, after, ok = TimeToHealthy(l.Timeline().Segments(vip), moved, stableFor)
		return ok
	}) || node != "node-3" {
		t.Fatalf("%s: not answered by node-3 alone within %v of the move (got %q):\n%s", vip, settleLimit, node, describe(l, vip))
	}
	st := noSplitBrain(t, l, vip, moved)
	// Issue target: within 1s. Timing is measured and logged; the assertion is only a sanity
	// bound, since this machine is shared.
	t.Logf("%s: node-3 answered alone %v after the EndpointSlice update (dark for %v in between)",
		vip, after.Round(time.Millisecond), st.LongestOutage)
	if after > 20*time.Second {
		t.Errorf("%s: move took %v, want well under 20s", vip, after)
	}
	if holder := agreedHolder(t, l, vip); holder != "node-3" {
		t.Errorf("%s: lease holder %s after the move, want node-3", vip, holder)
	}
}

func TestLab_IPv6ServiceIsAnsweredOverNDPByExactlyOneNode(t *testing.T) {
	l := sharedLab(t)
	vip := VIP6(10)
	start := createAndTime(t, l, ServiceSpec{Name: "c-ipv6", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)})
	node := agreedHolder(t, l, vip)
	logFirstAnswer(t, l, vip, start)
	if st := noSplitBrain(t, l, vip, start); len(st.Answered) != 1 {
		t.Errorf("%s: answered by %v since creation, want only %s", vip, st.Answered, node)
	}
}

func TestLab_CloseLeavesNothingBehind(t *testing.T) {
	l := sharedLab(t)
	pids := map[string]int{}
	for _, n := range l.Nodes() {
		pids[n.Name()] = n.Pid()
	}
	etcdLink := "--etcd-servers=http://" + l.Env().Proxy().Addr() // in kube-apiserver's command line
	if _, err := closeShared(t); err != nil {
		t.Errorf("Close: %v", err)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("daemon of %s (pid %d) after Close: kill -0 = %v, want ESRCH", name, pid, err)
		}
	}
	for _, cmd := range [][]string{{"ip", "netns", "list"}, {"ip", "-o", "link", "show"}} {
		if out := command(t, cmd...); strings.Contains(out, l.ID()) {
			t.Errorf("%s still lists %s:\n%s", strings.Join(cmd, " "), l.ID(), out)
		}
	}
	for _, pattern := range []string{l.Dir(), etcdLink} {
		if out, err := exec.Command("pgrep", "-f", "--", pattern).Output(); err == nil {
			t.Errorf("processes matching %q after Close: %s", pattern, out)
		}
	}
	for _, p := range []string{l.Dir(), StateDir + "/" + l.ID() + ".pid"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Close: %v, want it gone", p, err)
		}
	}
}

func command(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
