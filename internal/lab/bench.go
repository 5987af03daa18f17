package lab

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scaleLeasePoll: the lab's Lease poller lists every Lease; with 1,000 it polls slowly.
const scaleLeasePoll = 5 * time.Second

// ScaleGroup is one scale lab: a node count and the VIP counts it grows through.
type ScaleGroup struct {
	Nodes int
	VIPs  []int
}

// benchOptions are the flags of `vipkeeper-lab scenarios` and `vipkeeper-lab bench`.
type benchOptions struct {
	base          Config
	out           string
	scenarios     []Scenario
	timings       []Timing
	scale         []ScaleGroup
	scaleTiming   Timing
	scaleSteady   time.Duration
	scaleInterval time.Duration
	scalePowerOff bool
	keepLogs      bool
	list          bool
}

func parseBenchFlags(sub string, args []string, errOut io.Writer) (benchOptions, error) {
	var o benchOptions
	var only, timings, scale, scaleTiming string
	fs := flag.NewFlagSet("vipkeeper-lab "+sub, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.StringVar(&o.out, "out", "out/bench", "output directory: results.json, report.md, svg/")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (default all; none: no scenarios); see --list")
	fs.StringVar(&timings, "timings", "default,fast", "timing presets to run the scenarios with: default, fast, bgp, ride (LD 2s / RD 1.2s / RP 0.4s with the peer channel)")
	fs.IntVar(&o.base.Nodes, "nodes", 3, "nodes of the scenario labs")
	defScale := "none"
	if sub == "bench" {
		defScale = "3:100/300/1000,10:1000"
	}
	fs.StringVar(&scale, "scale", defScale, "scale runs: nodes:vips/vips/...,nodes:... (none: skip)")
	fs.StringVar(&scaleTiming, "scale-timing", "default", "timing preset of the scale runs")
	fs.DurationVar(&o.scaleSteady, "scale-steady", 30*time.Second, "steady-state window of each scale step")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep the daemon logs after every scenario, not only after failed ones (<out>/logs/)")
	fs.BoolVar(&o.scalePowerOff, "scale-power-off", false, "after each group's last step, power off the node answering the most VIPs and measure the takeover")
	fs.DurationVar(&o.scaleInterval, "scale-probe-interval", 500*time.Millisecond, "probe round of the scale labs (every VIP each round)")
	fs.StringVar(&o.base.DaemonCmd, "daemon-cmd", DefaultDaemonCmd, "command run on each node (text/template over lab.DaemonArgs)")
	fs.StringVar(&o.base.ControllerCmd, "controller-cmd", DefaultControllerCmd, "command of the controller role (text/template over lab.DaemonArgs)")
	fs.StringVar(&o.base.DaemonBin, "daemon-bin", "", "{{.Bin}} of both commands (default: $VIPKEEPER_DAEMON_BIN, else bin/vipkeeper)")
	fs.StringVar(&o.base.Manifest, "manifest", "", "deploy/vipkeeper.yaml to apply (default: found upwards from here)")
	fs.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var errs [4]error
	o.scenarios, errs[0] = SelectScenarios(only)
	o.timings, errs[1] = parseTimings(timings)
	o.scale, errs[2] = ParseScaleGroups(scale)
	o.scaleTiming, errs[3] = ParseTiming(scaleTiming)
	return o, errors.Join(append(errs[:], o.base.Validate())...)
}

func parseTimings(s string) ([]Timing, error) {
	var out []Timing
	for _, name := range strings.Split(s, ",") {
		t, err := ParseTiming(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseScaleGroups parses "3:100/300/1000,10:1000" ("none" or "": no scale runs).
func ParseScaleGroups(s string) ([]ScaleGroup, error) {
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []ScaleGroup
	for _, g := range strings.Split(s, ",") {
		nodes, vips, ok := strings.Cut(g, ":")
		n, err := strconv.Atoi(nodes)
		if !ok || err != nil || n < 1 || n > MaxNodes {
			return nil, fmt.Errorf("scale group %q: want nodes:vips/vips with nodes in 1..%d", g, MaxNodes)
		}
		grp := ScaleGroup{Nodes: n}
		for _, v := range strings.Split(vips, "/") {
			c, err := strconv.Atoi(v)
			if err != nil || c < 1 || c > MaxScaleVIPs || len(grp.VIPs) > 0 && c <= grp.VIPs[len(grp.VIPs)-1] {
				return nil, fmt.Errorf("scale group %q: VIP counts must grow, 1..%d", g, MaxScaleVIPs)
			}
			grp.VIPs = append(grp.VIPs, c)
		}
		out = append(out, grp)
	}
	return out, nil
}

// BenchMain runs `vipkeeper-lab scenarios|bench [flags]`: the chaos scenarios on a fresh
// lab per timing preset, then (bench) the scale runs, writing the report into --out after
// every row. 0: done (rows may carry errors); 1: a lab failed to start; 2: bad flags.
func BenchMain(ctx context.Context, sub string, args []string, stdout io.Writer) int {
	o, err := parseBenchFlags(sub, args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vipkeeper-lab %s: %v\n", sub, err)
		return 2
	}
	if o.list {
		for _, s := range Scenarios() {
			fmt.Fprintf(stdout, "%-28s %s\n", s.Name, s.Summary)
		}
		return 0
	}
	if err := o.base.defaultsForCommand(stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab:", err)
		return 1
	}
	b := &bench{o: o, log: o.base.Logger, rep: &Report{Started: time.Now(), Machine: Machine(),
		Command: strings.TrimSpace("vipkeeper-lab " + sub + " " + strings.Join(args, " ")), DaemonCmd: o.base.DaemonCmd,
		Notes: benchNotes(o)}}
	code := b.run(ctx)
	fmt.Fprintf(stdout, "vipkeeper-lab %s: report in %s/report.md\n", sub, o.out)
	return code
}

type bench struct {
	o   benchOptions
	log *slog.Logger
	rep *Report
}

func (b *bench) run(ctx context.Context) int {
	code := 0
	for _, t := range b.o.timings {
		if len(b.o.scenarios) == 0 || ctx.Err() != nil {
			break
		}
		labs, skipped := planLabs(b.o.scenarios, t, b.o.base.Nodes)
		if len(skipped) > 0 {
			b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("not run at %s timing (they need the peer channel): %s", t.Name, strings.Join(skipped, ", ")))
		}
		for _, lr := range labs {
			if ctx.Err() != nil {
				break
			}
			cfg := b.o.base
			cfg.Timing, cfg.Nodes, cfg.Spare = t, lr.nodes+lr.spare, lr.spare
			code = max(code, b.withLab(ctx, cfg, func(l *Lab) { b.scenarios(ctx, l, lr.scenarios) }))
		}
	}
	for _, g := range b.o.scale {
		if ctx.Err() != nil {
			break
		}
		cfg := b.o.base
		cfg.Nodes, cfg.Timing, cfg.ProbeInterval, cfg.LeasePoll = g.Nodes, b.o.scaleTiming, b.o.scaleInterval, scaleLeasePoll
		code = max(code, b.withLab(ctx, cfg, func(l *Lab) { b.scaleGroup(ctx, l, g) }))
	}
	return max(code, b.write())
}

// withLab starts a lab, waits until its daemons are ready, runs f and closes the lab.
func (b *bench) withLab(ctx context.Context, cfg Config, f func(*Lab)) int {
	l, err := Start(ctx, cfg)
	if err != nil {
		b.log.Error("start lab", "err", err)
		b.rep.Notes = append(b.rep.Notes, fmt.Sprintf("lab with %d nodes, %s timing did not start: %v", cfg.Nodes, cfg.Timing.Name, err))
		return 1
	}
	defer func() {
		if err := l.Close(); err != nil {
			b.log.Error("close lab", "err", err)
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if cfg.DaemonCmd == DefaultDaemonCmd {
		if err := l.WaitReady(rctx); err != nil {
			b.log.Error("lab daemons not ready", "err", err)
			return 1
		}
	}
	f(l)
	return 0
}

// labRun is one lab of a timing's scenarios: its nodes, how many more are spare
// (Config.Spare), and the scenarios run on it.
type labRun struct {
	nodes, spare int
	scenarios    []Scenario
}

// planLabs groups the scenarios that run at t by the spare nodes they need: one lab of
// nodes nodes for those that need none, one of nodes + k (k spare) for those that need k,
// in the order of their first scenario. skipped names the scenarios that do not run at t.
func planLabs(scs []Scenario, t Timing, nodes int) (labs []labRun, skipped []string) {
	for _, sc := range scs {
		if !sc.RunsAt(t) {
			skipped = append(skipped, sc.Name)
			continue
		}
		i := slices.IndexFunc(labs, func(lr labRun) bool { return lr.spare == sc.Spare })
		if i < 0 {
			labs = append(labs, labRun{nodes: nodes, spare: sc.Spare})
			i = len(labs) - 1
		}
		labs[i].scenarios = append(labs[i].scenarios, sc)
	}
	return labs, skipped
}

func (b *bench) scenarios(ctx context.Context, l *Lab, scs []Scenario) {
	rn := &Runner{Lab: l, Logger: b.log}
	for _, sc := range scs {
		if ctx.Err() != nil {
			return
		}
		res := rn.Run(ctx, sc)
		b.rep.Results = append(b.rep.Results, res)
		b.write()
		if res.Error != "" || b.o.keepLogs {
			b.keepLogs(l, fmt.Sprintf("%s-%s", sc.Name, res.Timing))
		}
	}
}

func (b *bench) scaleGroup(ctx context.Context, l *Lab, g ScaleGroup) {
	sr := &ScaleRun{Lab: l, Steady: b.o.scaleSteady, Logger: b.log}
	for _, n := range g.VIPs {
		if ctx.Err() != nil {
			return
		}
		res := sr.Step(ctx, n)
		if b.o.scalePowerOff && n == g.VIPs[len(g.VIPs)-1] && res.Error == "" {
			po := sr.PowerOff(ctx)
			res.PowerOff = &po
		}
		b.rep.Scale = append(b.rep.Scale, res)
		b.write()
		if res.Error != "" || n == g.VIPs[len(g.VIPs)-1] {
			b.keepLogs(l, fmt.Sprintf("%dn-%d", g.Nodes, n))
		}
		if res.Error != "" {
			return // a lab that could not announce n VIPs will not announce more
		}
	}
}

// keepLogs copies the lab's daemon logs to <out>/logs/<name>/ before the lab is removed
// (after a failed scenario or scale step, and after each scale group's last).
func (b *bench) keepLogs(l *Lab, name string) {
	logs, _ := filepath.Glob(filepath.Join(l.Dir(), "*.log"))
	dst := filepath.Join(b.o.out, "logs", name)
	err := os.MkdirAll(dst, 0o755)
	for _, src := range logs {
		if err != nil {
			break
		}
		var data []byte
		if data, err = os.ReadFile(src); err == nil {
			err = os.WriteFile(filepath.Join(dst, filepath.Base(src)), data, 0o644)
		}
	}
	if err != nil {
		b.log.Error("keep daemon logs", "dir", dst, "err", err)
		return
	}
	b.log.Info("daemon logs kept", "dir", dst, "files", len(logs))
}

func (b *bench) write() int {
	b.rep.Finished = time.Now()
	if err := WriteReport(b.o.out, b.rep); err != nil {
		b.log.Error("write report", "err", err)
		return 1
	}
	return 0
}

func benchNotes(o benchOptions) []string {
	notes := []string{
		"scenario probe: one ARP request per VIP every 100 ms from a rotating source; durations have 100 ms resolution",
		"lease LIST/s includes the lab's own Lease poller (one LIST every 500 ms in the scenario labs)",
	}
	if len(o.scale) > 0 {
		notes = append(notes, fmt.Sprintf("scale: IPv6 VIPs (2001:db8:1::1:0/112), %d per Service (one Lease each), every VIP probed (NDP) every %v; the lab's Lease poller lists every %v",
			scaleVIPsPerService, o.scaleInterval, scaleLeasePoll))
	}
	return notes
}

// Machine describes this host: CPUs, memory, kernel.
func Machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64); err == nil {
					mem = fmt.Sprintf(", %.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%d CPUs%s, Linux %s, %s", runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)), runtime.Version())
}
