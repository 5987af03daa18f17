package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

const (
	// healthyStable is how long one node must answer alone (and, with our daemon, hold the
	// Lease) for the VIP to count as healthy.
	healthyStable = 2 * time.Second
	// preFault is the quiet time recorded before the first fault step.
	preFault = 2 * time.Second
	// observePoll is how often the observation checks for a healthy VIP.
	observePoll = 200 * time.Millisecond
	// firstScenarioVIP: scenarios use VIP4(firstScenarioVIP + k), clear of SampleServices.
	firstScenarioVIP = 20
)

// Window is a fault window, shaded in the plot. A zero End means it lasted to the end.
type Window struct {
	Label      string
	Start, End time.Time
}

// ScenarioRun is one scenario being run on a lab: what its actions act on and what they
// recorded.
type ScenarioRun struct {
	Lab      *Lab
	Scenario Scenario
	Timing   Timing
	VIP      netip.Addr
	Service  string
	Leader   *Node // the holder when the faults began (nil for NoService)

	ctx          context.Context
	ownDaemon    bool // the default daemon command: /readyz and our Lease names apply
	windows      []Window
	marks        []Mark
	created      time.Time // createService's instant
	apiDown      bool
	apiRestarted time.Time
	wrongKey     *Node // the node restarted with the wrong peer key (wrong-peer-key)
}

// Runner runs scenarios one after another on one lab, resetting it in between.
type Runner struct {
	Lab    *Lab
	Logger *slog.Logger
	seq    int
}

// maxObserve bounds the watch after the last step: a successor takes over within
// LD + AttemptTimeout + spread; twice that and 10 s more is plenty.
func maxObserve(t Timing) time.Duration {
	return 2*(t.LeaseDuration+2*t.RetryPeriod) + 10*time.Second
}

// Run resets the lab, runs sc and returns its result; a failure is in Result.Error and the
// lab is repaired (links up, daemons running, etcd thawed, kube-apiserver up) either way.
func (rn *Runner) Run(ctx context.Context, sc Scenario) Result {
	t := rn.Lab.Config().Timing
	r := &ScenarioRun{Lab: rn.Lab, Scenario: sc, Timing: t, ctx: ctx,
		VIP:       VIP4(firstScenarioVIP + rn.seq%(100-firstScenarioVIP)),
		Service:   fmt.Sprintf("%s-%d", sc.Name, rn.seq),
		ownDaemon: rn.Lab.Config().DaemonCmd == DefaultDaemonCmd}
	rn.seq++
	rn.logger().Info("scenario", "name", sc.Name, "timing", t.Name, "vip", r.VIP)
	res, err := r.execute(rn.logger())
	res.Error = errString(errors.Join(err, r.repair()))
	if derr := rn.Lab.DeleteService(context.WithoutCancel(ctx), r.Service); derr != nil && sc.Setup != NoService {
		rn.logger().Warn("delete scenario service", "service", r.Service, "err", derr)
	}
	rn.Lab.Prober().Unwatch(r.VIP)
	rn.logger().Info("scenario done", "name", sc.Name, "outage_ms", res.LongestOutageMs,
		"split_ms", res.SplitBrainMs, "changes", res.HolderChanges, "err", res.Error)
	return res
}

func (rn *Runner) logger() *slog.Logger {
	if rn.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rn.Logger
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// execute: reset, set up, record, fault, observe, measure.
func (r *ScenarioRun) execute(log *slog.Logger) (Result, error) {
	res := r.newResult()
	if err := r.reset(); err != nil {
		return res, fmt.Errorf("reset: %w", err)
	}
	if err := r.setUp(); err != nil {
		return res, err
	}
	if err := sleepCtx(r.ctx, preFault); err != nil {
		return res, err
	}
	before, berr := scrapeLeaseRequests(r.ctx, r.Lab)
	start := time.Now()
	err := r.runSteps(log)
	if err == nil {
		err = r.observe()
	}
	end := time.Now()
	after, aerr := scrapeLeaseRequests(context.WithoutCancel(r.ctx), r.Lab)
	r.measure(&res, start, end)
	if r.Scenario.Verify != nil && err == nil {
		res.Checks = r.Scenario.Verify(r, res)
	}
	if berr == nil && aerr == nil {
		res.setRates(before, after, end.Sub(start), r.resetWindow(end))
	} else {
		err = errors.Join(err, berr, aerr)
	}
	return res, err
}

// resetWindow is the time kube-apiserver's counters ran, if it restarted during the run.
func (r *ScenarioRun) resetWindow(end time.Time) time.Duration {
	if r.apiRestarted.IsZero() {
		return 0
	}
	return end.Sub(r.apiRestarted)
}

// reset repairs the lab, restarts every daemon (in parallel; a spare node's is stopped)
// and waits until all are ready.
func (r *ScenarioRun) reset() error {
	if err := r.repair(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(r.Lab.Nodes()))
	for i, n := range r.Lab.Nodes() {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
			defer cancel()
			if n.Spare() {
				errs[i] = stopDaemon(ctx, n)
				return
			}
			errs[i] = n.Restart(ctx)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !r.ownDaemon {
		return sleepCtx(r.ctx, 3*time.Second)
	}
	ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
	defer cancel()
	return r.Lab.WaitReady(ctx)
}

// repair undoes every fault a scenario may leave: etcd thawed, kube-apiserver running,
// all links up, no peer datagram dropped, no daemon paused or stopped (but a spare node's,
// which reset stops).
func (r *ScenarioRun) repair() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), actionTimeout)
	defer cancel()
	r.Lab.ThawEtcd()
	var errs []error
	if r.apiDown {
		errs = append(errs, r.Lab.RestartAPIServer(ctx))
		r.apiDown = false
	}
	for _, n := range r.Lab.Nodes() {
		errs = append(errs, n.SetDataLink(ctx, true), n.SetAPILink(ctx, true), n.clearPeerFaults(ctx))
		if n.State() == "paused" {
			errs = append(errs, n.Continue())
		}
		if !n.Running() && !n.Spare() {
			errs = append(errs, n.Start())
		}
	}
	return errors.Join(errs...)
}

// setUp creates the scenario's Service and waits until its VIP is healthy; the node that
// answers then is the leader.
func (r *ScenarioRun) setUp() error {
	if r.Scenario.Setup == NoService {
		return nil
	}
	if err := r.Lab.CreateService(r.ctx, r.spec(r.Scenario.Setup)); err != nil {
		return err
	}
	deadline := time.Now().Add(maxObserve(r.Timing))
	for {
		if node, ok := r.healthyNow(); ok {
			r.Leader = r.Lab.Node(node)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vip %s of service %s not healthy within %v", r.VIP, r.Service, maxObserve(r.Timing))
		}
		if err := sleepCtx(r.ctx, observePoll); err != nil {
			return err
		}
	}
}

// healthyNow: one node has answered alone for healthyStable and (with our daemon) holds
// the Lease.
func (r *ScenarioRun) healthyNow() (string, bool) {
	tl := r.Lab.Timeline()
	cur, ok := tl.Current(r.VIP)
	if !ok || len(cur.Nodes) != 1 || cur.Last.Sub(cur.Start) < healthyStable || r.Lab.Node(cur.Nodes[0]) == nil {
		return "", false
	}
	if holder, _ := tl.Holder(r.VIP); r.ownDaemon && holder != cur.Nodes[0] {
		return "", false
	}
	return cur.Nodes[0], true
}

// runSteps performs the steps in order, recording marks and fault windows.
func (r *ScenarioRun) runSteps(log *slog.Logger) error {
	for _, st := range r.Scenario.Steps(r.Timing, len(r.Lab.Nodes())) {
		if st.Action.Do != nil {
			if err := r.act(log, st); err != nil {
				return fmt.Errorf("step %q: %w", st.Action.Label, err)
			}
		}
		if err := sleepCtx(r.ctx, st.Then); err != nil {
			return err
		}
	}
	return nil
}

func (r *ScenarioRun) act(log *slog.Logger, st Step) error {
	begin := r.Lab.Mark(r.Scenario.Name + ": " + st.Action.Label)
	log.Info("step", "scenario", r.Scenario.Name, "action", st.Action.Label)
	err := st.Action.Do(r)
	done := time.Now()
	r.marks = append(r.marks, Mark{At: begin, Label: st.Action.Label})
	switch st.Window {
	case Opens:
		r.windows = append(r.windows, Window{Label: st.Action.Label, Start: begin})
	case Closes:
		if n := len(r.windows); n > 0 && r.windows[n-1].End.IsZero() {
			r.windows[n-1].End = done
		}
	}
	return err
}

// faultEnd is when the fault ended: the last window's end, or its start if still open.
func (r *ScenarioRun) faultEnd() time.Time {
	if !r.created.IsZero() {
		return r.created
	}
	if n := len(r.windows); n > 0 {
		if w := r.windows[n-1]; !w.End.IsZero() {
			return w.End
		}
		return r.windows[n-1].Start
	}
	return time.Now()
}

// observe watches after the last step for at least the scenario's minimum, then until
// the VIP is healthy (healthyNow), at most maxObserve.
func (r *ScenarioRun) observe() error {
	minObs := r.Timing.RenewDeadline
	if r.Scenario.Observe != nil {
		minObs = r.Scenario.Observe(r.Timing)
	}
	from := time.Now()
	for {
		waited := time.Since(from)
		_, healthy := r.healthyNow()
		if waited >= maxObserve(r.Timing) || waited >= minObs && healthy {
			return nil
		}
		if err := sleepCtx(r.ctx, observePoll); err != nil {
			return err
		}
	}
}

// stopDaemon stops a running daemon (SIGTERM, then SIGKILL when ctx ends); a stopped one is
// left alone.
func stopDaemon(ctx context.Context, n *Node) error {
	if !n.Running() {
		return nil
	}
	if _, err := n.Terminate(ctx); err != nil {
		if _, kerr := n.Kill(); kerr != nil && !errors.Is(kerr, ErrNotRunning) {
			return kerr
		}
	}
	return nil
}
