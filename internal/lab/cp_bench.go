package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"
)

// CPScenario is one fault on a control-plane lab whose VIP holder is known.
type CPScenario struct {
	Name   string
	Title  string
	Target string
	// Run applies the fault to holder (1-based) and watches; it returns the window to
	// measure and a note. The runner repairs the lab afterwards.
	Run func(ctx context.Context, l *CPLab, holder int) (from, to time.Time, note string, err error)
}

// CPResult is one row of the control-plane benchmark.
type CPResult struct {
	Scenario, Title, Target, Announcer string
	Holder                             string    // the node that held the VIP when the fault began
	Start                              time.Time // the fault's start
	Reads, FailedReads                 int
	FailedShare                        float64
	LongestGapMS                       int64 // longest time without a successful read
	ARPOutageMS                        int64 // longest run of ARP rounds nobody answered
	SplitBrainMS                       int64 // time two nodes answered one round
	HolderChanges                      int
	Note, FirstError, Err              string
}

// CPScenarios are the control-plane benchmark's scenarios (docs/benchmarks.md).
func CPScenarios() []CPScenario {
	return []CPScenario{
		{Name: "apiserver-sigkill", Title: "the holder's kube-apiserver SIGKILLed", Target: "gap <= 2 s, 0 s split", Run: runAPIKill},
		{Name: "power-off", Title: "the holder node powered off, on again after 20 s", Target: "gap <= lease duration + 1 s", Run: runPowerOff},
		{Name: "etcd-member-frozen", Title: "one etcd member frozen 15 s (quorum kept)", Target: "0 failed reads beyond etcd's own", Run: runEtcdFreeze},
		{Name: "announcer-sigterm", Title: "SIGTERM of the holder's announcer", Target: "gap <= 500 ms", Run: runAnnouncerTerm},
		{Name: "rolling-apiserver-restart", Title: "rolling restart of every kube-apiserver, one at a time", Target: "no gap > 2 s", Run: runRolling},
	}
}

// watch sleeps d or until ctx ends.
func watch(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func runAPIKill(ctx context.Context, l *CPLab, h int) (time.Time, time.Time, string, error) {
	from := time.Now()
	l.KillAPIServer(h)
	err := watch(ctx, 12*time.Second)
	return from, time.Now(), "", err
}

func runPowerOff(ctx context.Context, l *CPLab, h int) (time.Time, time.Time, string, error) {
	from := time.Now()
	if err := l.SetPower(ctx, h, false); err != nil {
		return from, time.Now(), "", err
	}
	err := errors.Join(watch(ctx, 20*time.Second), l.SetPower(ctx, h, true), watch(ctx, 10*time.Second))
	return from, time.Now(), "revived after 20 s, watched 10 s more", err
}

func runEtcdFreeze(ctx context.Context, l *CPLab, h int) (time.Time, time.Time, string, error) {
	victim, note := l.etcdVictim(ctx, h)
	from := time.Now()
	if err := l.SetEtcdFrozen(victim, true); err != nil {
		return from, time.Now(), note, err
	}
	err := errors.Join(watch(ctx, 15*time.Second), l.SetEtcdFrozen(victim, false), watch(ctx, 3*time.Second))
	return from, time.Now(), note, err
}

// etcdVictim is the etcd member to freeze: not the holder's (its API server would lose
// its etcd and the VIP move: that is the API-server scenarios), the raft leader if it is
// elsewhere (the worst member to lose).
func (l *CPLab) etcdVictim(ctx context.Context, holder int) (int, string) {
	lead, err := l.cluster.EtcdLeader(ctx)
	if err == nil && lead+1 != holder {
		return lead + 1, fmt.Sprintf("froze the etcd leader (%s)", NodeName(lead+1))
	}
	v := holder%l.cfg.Nodes + 1
	return v, fmt.Sprintf("froze %s's etcd (a follower; the leader was on the holder)", NodeName(v))
}

func runAnnouncerTerm(ctx context.Context, l *CPLab, h int) (time.Time, time.Time, string, error) {
	from := time.Now()
	l.Mark("SIGTERM announcer of " + NodeName(h))
	if err := signalGroup(l.nodes[h-1], syscall.SIGTERM); err != nil {
		return from, time.Now(), "", err
	}
	err := watch(ctx, 6*time.Second)
	return from, time.Now(), "", err
}

func runRolling(ctx context.Context, l *CPLab, _ int) (time.Time, time.Time, string, error) {
	from := time.Now()
	for i := 1; i <= l.cfg.Nodes; i++ {
		if err := l.RestartAPIServer(ctx, i); err != nil {
			return from, time.Now(), "", err
		}
		if err := watch(ctx, cpRise+2*time.Second); err != nil { // a node is a candidate again after the rise
			return from, time.Now(), "", err
		}
	}
	return from, time.Now(), fmt.Sprintf("SIGTERM, restart, %v pause, per node", cpRise+2*time.Second), nil
}

// cpRise is vipkeeper's default rise (internal/cpvip.DefaultThresholds).
const cpRise = 10 * time.Second

// RunCPScenario resets the lab, runs sc on the current holder and measures it.
func (l *CPLab) RunCPScenario(ctx context.Context, sc CPScenario, log *slog.Logger) CPResult {
	res := CPResult{Scenario: sc.Name, Title: sc.Title, Target: sc.Target, Announcer: l.cfg.Announcer}
	h, err := l.reset(ctx)
	if err != nil {
		res.Err = "reset: " + err.Error()
		return res
	}
	res.Holder = NodeName(h)
	log.Info("scenario", "name", sc.Name, "announcer", l.cfg.Announcer, "holder", res.Holder)
	l.faulted = true
	from, to, note, err := sc.Run(ctx, l, h)
	res.Start, res.Note = from, note
	if err != nil {
		res.Err = err.Error()
	}
	l.measure(&res, from, to)
	return res
}

func (l *CPLab) measure(res *CPResult, from, to time.Time) {
	rd := SummarizeReads(l.reader.Results(from, to), from, to)
	st := Analyze(l.timeline.Segments(l.cfg.VIP), from, to)
	res.Reads, res.FailedReads, res.FailedShare, res.FirstError = rd.Total, rd.Failed, rd.FailedShare(), rd.FirstError
	res.LongestGapMS, res.ARPOutageMS, res.SplitBrainMS = ms(rd.LongestGap), ms(st.LongestOutage), ms(st.SplitBrain)
	res.HolderChanges = st.HolderChanges
}

// reset brings every part back (API servers, etcd, links, announcers), waits until every
// node is a candidate again and one holder serves reads, and returns the holder.
func (l *CPLab) reset(ctx context.Context) (int, error) {
	changed := false
	for i := 1; i <= l.cfg.Nodes; i++ {
		c, err := l.repairNode(ctx, i)
		if err != nil {
			return 0, err
		}
		changed = changed || c
	}
	if changed || l.faulted {
		l.faulted = true // every scenario after the first begins after a fault
		if err := watch(ctx, cpRise+2*time.Second); err != nil {
			return 0, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return l.WaitHolder(wctx, 2*time.Second, time.Time{})
}

// repairNode undoes every fault on node i; it reports whether something was undone.
func (l *CPLab) repairNode(ctx context.Context, i int) (bool, error) {
	n := l.nodes[i-1]
	_ = l.cluster.SignalEtcd(i-1, syscall.SIGCONT)
	_ = l.cluster.SignalAPIServer(i-1, syscall.SIGCONT)
	if n.Pid() != 0 {
		_ = signalGroup(n, syscall.SIGCONT)
	}
	errs := []error{n.SetDataLink(ctx, true), n.SetAPILink(ctx, true)}
	changed := false
	if !l.cluster.APIServerRunning(i - 1) {
		changed = true
		errs = append(errs, l.StartAPIServer(ctx, i))
	}
	if !n.Running() {
		changed = true
		errs = append(errs, n.Start())
	}
	return changed, errors.Join(errs...)
}
