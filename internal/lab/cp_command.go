package lab

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cpOptions are the flags of `vipkeeper-lab control-plane [bench]`.
type cpOptions struct {
	cfg        CPConfig
	announcers []string
	only       []string
	out        string
	duration   time.Duration
}

func parseCPFlags(name string, args []string, errOut io.Writer) (cpOptions, error) {
	var o cpOptions
	var announcers, announcer, only, apiArgs string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.IntVar(&o.cfg.Nodes, "nodes", 3, "control-plane nodes")
	fs.StringVar(&o.cfg.DaemonBin, "daemon-bin", "", "vipkeeper binary (default: $VIPKEEPER_DAEMON_BIN, else bin/vipkeeper)")
	fs.StringVar(&announcers, "announcers", AnnouncerVipkeeper+","+AnnouncerKeepalived, "bench: announcers to measure, in order")
	fs.StringVar(&announcer, "announcer", AnnouncerVipkeeper, "live lab: vipkeeper or keepalived")
	fs.StringVar(&only, "only", "", "bench: comma list of scenarios (default all)")
	fs.StringVar(&o.out, "out", "out/cp-bench", "bench: directory of results.json and report.md")
	fs.DurationVar(&o.duration, "duration", 0, "live lab: stop after this long (0: until Ctrl-C)")
	fs.StringVar(&apiArgs, "apiserver-args", "", "extra kube-apiserver flags, comma-separated (e.g. --shutdown-delay-duration=3s)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.announcers = strings.Split(announcers, ",")
	o.cfg.Announcer = announcer
	if apiArgs != "" {
		o.cfg.ControlPlane.APIServerArgs = strings.Split(apiArgs, ",")
	}
	if only != "" {
		o.only = strings.Split(only, ",")
	}
	return o, o.cfg.Validate()
}

// CPMain runs `vipkeeper-lab control-plane [flags]` (a live 3-node control-plane lab that
// prints who holds the VIP and how the client's reads fare, until ctx ends) or
// `vipkeeper-lab control-plane bench [flags]` (docs/benchmarks.md).
func CPMain(ctx context.Context, args []string, stdout io.Writer) int {
	bench := len(args) > 0 && args[0] == "bench"
	if bench {
		args = args[1:]
	}
	o, err := parseCPFlags("vipkeeper-lab control-plane", args, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab control-plane:", err)
		return 2
	}
	o.cfg.Logger = slog.New(slog.NewTextHandler(stdout, nil))
	if bench {
		return cpBench(ctx, o, stdout)
	}
	return cpLive(ctx, o, stdout)
}

func cpLive(ctx context.Context, o cpOptions, stdout io.Writer) int {
	l, err := StartCP(ctx, o.cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab control-plane:", err)
		return 1
	}
	defer l.Close()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	fmt.Fprintf(stdout, "control-plane lab %s: VIP %s, announcer %s; Ctrl-C tears it all down\n", l.ID(), l.cfg.VIP, l.cfg.Announcer)
	for last := time.Now(); watch(ctx, time.Second) == nil; last = time.Now() {
		seg, _ := l.timeline.Current(l.cfg.VIP)
		h, _ := l.timeline.Holder(l.cfg.VIP)
		rd := SummarizeReads(l.reader.Results(last, time.Time{}), last, time.Time{})
		fmt.Fprintf(stdout, "%s answering %v, lease holder %q, reads %d ok / %d failed\n",
			time.Now().Format("15:04:05"), seg.Nodes, h, rd.Total-rd.Failed, rd.Failed)
	}
	return 0
}

func cpBench(ctx context.Context, o cpOptions, stdout io.Writer) int {
	var results []CPResult
	code := 0
	for _, a := range o.announcers {
		cfg := o.cfg
		cfg.Announcer = a
		rs, err := benchAnnouncer(ctx, cfg, o.only)
		results = append(results, rs...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "vipkeeper-lab control-plane bench:", a+":", err)
			code = 1
		}
	}
	if err := writeCPReport(o.out, results); err != nil {
		fmt.Fprintln(os.Stderr, "vipkeeper-lab control-plane bench:", err)
		return 1
	}
	_ = renderCPTable(stdout, results)
	return code
}

func benchAnnouncer(ctx context.Context, cfg CPConfig, only []string) ([]CPResult, error) {
	l, err := StartCP(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var out []CPResult
	for _, sc := range CPScenarios() {
		if len(only) > 0 && !slices.Contains(only, sc.Name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		out = append(out, l.RunCPScenario(ctx, sc, cfg.Logger))
	}
	return out, errors.Join(ctx.Err(), l.Close())
}

func writeCPReport(dir string, results []CPResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	defer f.Close()
	return renderCPTable(f, results)
}

// renderCPTable writes one Markdown row per scenario and announcer.
func renderCPTable(w io.Writer, results []CPResult) error {
	var b strings.Builder
	b.WriteString("| scenario | target | announcer | failed reads | longest read gap | ARP outage | split | changes | note |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range results {
		note := r.Note
		if r.Err != "" {
			note = strings.TrimSpace(note + " ERROR: " + r.Err)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d/%d (%.1f %%) | %d ms | %d ms | %d ms | %d | %s |\n",
			r.Title, r.Target, r.Announcer, r.FailedReads, r.Reads, 100*r.FailedShare,
			r.LongestGapMS, r.ARPOutageMS, r.SplitBrainMS, r.HolderChanges, note)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
