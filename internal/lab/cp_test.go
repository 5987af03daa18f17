package lab

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// startCPTest starts a 3-node control-plane lab for t, or skips it (not root, binaries
// missing without $CI).
func startCPTest(t *testing.T, cfg CPConfig) *CPLab {
	t.Helper()
	if err := checkHost(); err != nil {
		t.Skipf("no control-plane lab: %v", err)
	}
	if cfg.Announcer != AnnouncerKeepalived {
		bin, err := daemonBin()
		if err != nil {
			t.Fatalf("daemon binary: %v", err)
		}
		cfg.DaemonBin = bin
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	l, err := StartCP(ctx, cfg)
	switch {
	case (missing(err) || errors.Is(err, ErrKeepalivedMissing)) && os.Getenv("CI") == "":
		t.Skipf("no control-plane lab: %v; build with `bash hack/build.sh`, install with `bash hack/deps.sh`", err)
	case err != nil:
		t.Fatalf("start control-plane lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("VIPKEEPER_LAB_LOGS") != "" {
			for _, n := range l.Nodes() {
				t.Logf("%s (%s), last lines of %s:\n%s", n.Name(), n.State(), n.LogPath(), n.LogTail(30))
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("close control-plane lab %s: %v", l.ID(), err)
		}
	})
	return l
}

// TestControlPlane_OneHolderAndFailoverWhenItsAPIServerDies brings up three control-plane
// nodes (etcd member, kube-apiserver and vipkeeper control-plane each), and checks that
// exactly one node answers for the VIP, that a client reads through https://VIP:6443, and
// that the VIP moves when the holder's kube-apiserver is SIGKILLed, with no probe round
// ever answered by two nodes. The gap is only reported (docs/benchmarks.md has targets).
func TestControlPlane_OneHolderAndFailoverWhenItsAPIServerDies(t *testing.T) {
	l := startCPTest(t, CPConfig{})
	vip := l.Config().VIP
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	holder, err := l.WaitHolder(ctx, 2*time.Second, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s holds %s; reads through the VIP succeed", NodeName(holder), vip)
	kill := time.Now()
	l.KillAPIServer(holder)
	next, err := l.WaitHolder(ctx, 2*time.Second, kill)
	if err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	if next == holder {
		t.Fatalf("%s still answers for %s after its kube-apiserver was killed", NodeName(holder), vip)
	}
	end := time.Now()
	st := Analyze(l.Timeline().Segments(vip), time.Time{}, end)
	rd := SummarizeReads(l.Reader().Results(kill, end), kill, end)
	t.Logf("failover %s -> %s: ARP outage %v, reads failed %d/%d, longest read gap %v (first error: %s)",
		NodeName(holder), NodeName(next), st.LongestOutage, rd.Failed, rd.Total, rd.LongestGap, rd.FirstError)
	if st.SplitBrain > 0 {
		t.Errorf("two nodes answered for %s during %v", vip, st.SplitBrain)
	}
}
