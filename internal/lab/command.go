package lab

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"golang.org/x/term"
)

const (
	redrawEvery  = 500 * time.Millisecond
	readyTimeout = 2 * time.Minute
	clearScreen  = "\x1b[H\x1b[2J"
)

// options are the flags of `vipkeeper-lab`.
type options struct {
	cfg      Config
	duration time.Duration
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	var o options
	var timing string
	fs := flag.NewFlagSet("vipkeeper-lab", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.IntVar(&o.cfg.Nodes, "nodes", 3, fmt.Sprintf("simulated nodes (1..%d)", MaxNodes))
	fs.StringVar(&timing, "timing", "default", "election timing: default (15s/10s/2s), fast (5s/3s/1s), bgp (7s/3s/1s) or ride (2s/1.2s/0.4s, peer channel on)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fs.StringVar(&o.cfg.DaemonCmd, "daemon-cmd", DefaultDaemonCmd, "command run on each node (text/template over lab.DaemonArgs)")
	fs.StringVar(&o.cfg.ControllerCmd, "controller-cmd", DefaultControllerCmd, "command of the controller role, run in the host namespace (text/template over lab.DaemonArgs)")
	fs.StringVar(&o.cfg.DaemonBin, "daemon-bin", "", "{{.Bin}} of both commands (default: $VIPKEEPER_DAEMON_BIN, else bin/vipkeeper)")
	fs.StringVar(&o.cfg.Manifest, "manifest", "", "deploy/vipkeeper.yaml to apply (default: found upwards from here)")
	fs.StringVar(&o.cfg.BGP, "bgp", "", "BGP mode: frr or bird runs that router between the nodes and a client LAN, daemons with --bgp (docs/bgp.md)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	t, err := ParseTiming(timing)
	o.cfg.Timing = t
	if o.cfg.Nodes < 1 {
		err = errors.Join(err, fmt.Errorf("--nodes %d: want 1..%d", o.cfg.Nodes, MaxNodes))
	}
	return o, errors.Join(err, o.cfg.Validate())
}

// Main runs `vipkeeper-lab [flags]` (or `vipkeeper-lab scenarios|bench [flags]`, BenchMain): a control plane, the topology, N daemons and sample
// Services, with a live view on stdout until ctx ends (Ctrl-C) or --duration passes. It
// tears everything down before returning 0; 2 means bad flags, 1 a failed start.
func Main(ctx context.Context, args []string, stdout io.Writer) int {
	if len(args) > 0 && (args[0] == "scenarios" || args[0] == "bench") { // chaos scenarios; see bench.go
		return BenchMain(ctx, args[0], args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "control-plane" { // the 3-node control-plane lab; see cp_command.go
		return CPMain(ctx, args[1:], stdout)
	}
	o, err := parseFlags(args, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab:", err)
		return 2
	}
	if err := o.cfg.defaultsForCommand(stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab:", err)
		return 1
	}
	fmt.Fprintf(stdout, "vipkeeper-lab: %d nodes, timing %s; Ctrl-C tears it all down\n", o.cfg.Nodes, o.cfg.Timing.Name)
	l, err := Start(ctx, o.cfg)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintln(os.Stderr, "vipkeeper-lab:", err)
		return 1
	}
	code := l.demo(ctx, o, stdout)
	if err := l.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab: teardown:", err)
		return 1
	}
	fmt.Fprintln(stdout, "vipkeeper-lab: everything removed")
	return code
}

// demo creates the sample Services and shows the live view until ctx ends or o.duration
// passes, then prints the summary.
func (l *Lab) demo(ctx context.Context, o options, stdout io.Writer) int {
	for _, s := range append(SampleServices(l.nodeNames()), l.bgpSamples()...) {
		if err := l.CreateService(ctx, s); err != nil {
			fmt.Fprintln(os.Stderr, "vipkeeper-lab:", err)
			return 1
		}
	}
	if o.cfg.DaemonCmd == DefaultDaemonCmd {
		rctx, cancel := context.WithTimeout(ctx, readyTimeout)
		if err := l.WaitReady(rctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(stdout, "vipkeeper-lab: warning:", err)
		}
		cancel()
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	l.live(ctx, stdout, isTerminal(stdout))
	l.summary(stdout)
	return 0
}

func (l *Lab) nodeNames() []string {
	out := make([]string, len(l.nodes))
	for i, n := range l.nodes {
		out[i] = n.name
	}
	return out
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// live redraws the table (tty) or prints a line per change (otherwise) until ctx ends.
func (l *Lab) live(ctx context.Context, w io.Writer, tty bool) {
	tick := time.NewTicker(redrawEvery)
	defer tick.Stop()
	last := map[string]string{}
	for {
		now := time.Now()
		rows := l.Rows(now)
		if tty {
			var b bytes.Buffer
			b.WriteString(clearScreen)
			Render(&b, l.Status(now), rows)
			l.renderRoutes(&b, nil) // BGP labs: the router's next hops
			_, _ = w.Write(b.Bytes())
		} else {
			for _, r := range rows {
				if line := Line(r); last[r.VIP.String()] != line {
					last[r.VIP.String()] = line
					fmt.Fprintf(w, "%s %s\n", now.Format("15:04:05.000"), line)
				}
			}
			l.renderRoutes(w, last)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// summary prints the final table.
func (l *Lab) summary(w io.Writer) {
	fmt.Fprintln(w, "\nfinal state:")
	now := time.Now()
	Render(w, l.Status(now), l.Rows(now))
}

// SampleServices are the Services `vipkeeper-lab` creates on nodes: three with
// externalTrafficPolicy Cluster, one Local with one endpoint on the second node, and one
// IPv6.
func SampleServices(nodes []string) []ServiceSpec {
	first, second, last := nodes[0], nodes[min(1, len(nodes)-1)], nodes[len(nodes)-1]
	all := make([]Endpoint, len(nodes))
	for i, n := range nodes {
		all[i] = Endpoint{Node: n}
	}
	return []ServiceSpec{
		{Name: "web", VIPs: []netip.Addr{VIP4(0)}, Endpoints: all},
		{Name: "api", VIPs: []netip.Addr{VIP4(1)}, Endpoints: []Endpoint{{Node: first}, {Node: last}}},
		{Name: "dns", VIPs: []netip.Addr{VIP4(2)}, Endpoints: []Endpoint{{Node: last}}},
		{Name: "local", VIPs: []netip.Addr{VIP4(3)}, Local: true, Endpoints: []Endpoint{{Node: second}}},
		{Name: "web6", VIPs: []netip.Addr{VIP6(0)}, Endpoints: all},
	}
}

// defaultsForCommand fills what a command line leaves open: logs go to stdout as text.
// The daemon binary is found by Start ($VIPKEEPER_DAEMON_BIN, else bin/vipkeeper).
func (c *Config) defaultsForCommand(stdout io.Writer) error {
	c.Logger = slog.New(slog.NewTextHandler(stdout, nil))
	return nil
}
