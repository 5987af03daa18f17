package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/vipkeeper/vipkeeper/internal/lease"
)

const (
	// scaleAnnounceLimit bounds the wait for every VIP of a scale step to be answered.
	scaleAnnounceLimit = 3 * time.Minute
	// scaleSettle passes between "all answered" and the steady-state window.
	scaleSettle = 5 * time.Second
	// scaleWorkers create Services in parallel.
	scaleWorkers = 8
	// MaxScaleVIPs bounds the scale VIP range (2001:db8:1::1:0 + n).
	MaxScaleVIPs = 1 << 16
	// scaleVIPsPerService: the lab's kube-apiserver has a /24 of ClusterIPs, so the scale
	// runs put 25 VIPs on each Service (5,000 VIPs in 200 Services) (each VIP still has its own Lease and election).
	scaleVIPsPerService = 25
)

// ScaleResult is one step of a scale run: the lab holds VIPs VIPs, scaleVIPsPerService per Service.
type ScaleResult struct {
	Nodes           int     `json:"nodes"`
	VIPs            int     `json:"vips"`
	Timing          string  `json:"timing"`
	ProbeIntervalMs int64   `json:"probe_interval_ms"`
	CreateSeconds   float64 `json:"create_seconds"`  // creating this step's new Services
	AllAnsweredMs   *int64  `json:"all_answered_ms"` // last create -> every VIP answered once; null: not all
	Answered        int     `json:"answered"`        // VIPs answered at least once
	SplitVIPs       int     `json:"split_vips"`      // VIPs two nodes answered at some round of this step

	SteadySeconds   float64            `json:"steady_seconds"`
	SteadyDarkVIPs  int                `json:"steady_dark_vips"` // VIPs that went dark in the steady window
	SteadyDarkS     float64            `json:"steady_dark_s"`    // their total dark time (VIP-seconds)
	LeaseRequests   map[string]float64 `json:"lease_requests_per_s"`
	LeaseWritesPerS float64            `json:"lease_writes_per_s"`
	LeaseGetsPerS   float64            `json:"lease_gets_per_s"`
	RSSMiB          float64            `json:"rss_mib"` // node-1's daemon at the end of the window
	MaxRSSMiB       float64            `json:"max_rss_mib"`
	CPUPercent      float64            `json:"cpu_percent"` // node-1's daemon over the window, % of one core
	MaxCPUPercent   float64            `json:"max_cpu_percent"`
	Process         string             `json:"process"` // comm of node-1's daemon pid
	Error           string             `json:"error,omitempty"`
	// Unanswered are the first VIPs of a failed step nobody answered, with their Lease.
	Unanswered []string        `json:"unanswered,omitempty"`
	PowerOff   *PowerOffResult `json:"power_off,omitempty"` // after the step, with --scale-power-off
}

// ScaleVIP is the n-th VIP of the scale runs, 2001:db8:1::1:0 + n (IPv6: the data LAN's
// IPv4 /24 has room for only 100 VIPs).
func ScaleVIP(n int) netip.Addr {
	b := netip.MustParseAddr("2001:db8:1::1:0").As16()
	n %= MaxScaleVIPs
	b[14], b[15] = byte(n>>8), byte(n)
	return netip.AddrFrom16(b)
}

// ScaleRun grows a running lab's VIPs (Cluster Services of scaleVIPsPerService VIPs each,
// endpoints on every node) step by step and measures each step.
type ScaleRun struct {
	Lab    *Lab
	Steady time.Duration // steady-state window per step
	Logger *slog.Logger
	have   int
}

// Step grows the lab to n VIPs and measures.
func (s *ScaleRun) Step(ctx context.Context, n int) ScaleResult {
	cfg := s.Lab.Config()
	res := ScaleResult{Nodes: cfg.Nodes, VIPs: n, Timing: cfg.Timing.Name, ProbeIntervalMs: ms(cfg.ProbeInterval)}
	s.Logger.Info("scale step", "nodes", cfg.Nodes, "vips", n)
	start := time.Now()
	err := s.create(ctx, s.have, n)
	last := time.Now()
	res.CreateSeconds = last.Sub(start).Seconds()
	s.have = n
	if err == nil {
		err = s.waitAnswered(ctx, &res, start, last)
		if err != nil {
			res.Unanswered = s.Unanswered(ctx, start, 10)
			s.Logger.Warn("scale step: unanswered VIPs", "first", res.Unanswered)
		}
	}
	if err == nil {
		err = errors.Join(sleepCtx(ctx, scaleSettle), s.steady(ctx, &res))
	}
	res.SplitVIPs = s.splitVIPs(start, time.Now())
	res.Error = errString(err)
	s.Logger.Info("scale step done", "nodes", cfg.Nodes, "vips", n, "answered", res.Answered,
		"all_answered_ms", optMs(res.AllAnsweredMs), "rss_mib", res.RSSMiB, "err", res.Error)
	return res
}

// create creates the Services for VIPs [from, to) with scaleWorkers in parallel, through
// a client of its own with a high rate limit.
func (s *ScaleRun) create(ctx context.Context, from, to int) error {
	rc := s.Lab.Env().AdminConfig()
	rc.QPS, rc.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	work := make(chan int)
	errs := make([]error, scaleWorkers)
	var wg sync.WaitGroup
	for w := range scaleWorkers {
		wg.Go(func() {
			for i := range work {
				errs[w] = errors.Join(errs[w], s.createOne(ctx, cs, i, min(i+scaleVIPsPerService, to)))
			}
		})
	}
	for i := from; i < to && ctx.Err() == nil; i += scaleVIPsPerService {
		work <- i
	}
	close(work)
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// createOne creates one Service for the VIPs [from, to).
func (s *ScaleRun) createOne(ctx context.Context, cs kubernetes.Interface, from, to int) error {
	spec := ServiceSpec{Name: fmt.Sprintf("scale-%d", from)}
	for i := from; i < to; i++ {
		spec.VIPs = append(spec.VIPs, ScaleVIP(i))
	}
	for _, n := range s.Lab.Nodes() {
		spec.Endpoints = append(spec.Endpoints, Endpoint{Node: n.Name()})
	}
	slice, err := s.Lab.endpointSlice(spec.Name, spec.Endpoints)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{FieldManager: fieldManager}
	if _, err := cs.CoreV1().Services(ServiceNamespace).Create(ctx, service(spec), opts); err != nil {
		return fmt.Errorf("create service %s: %w", spec.Name, err)
	}
	if _, err := cs.DiscoveryV1().EndpointSlices(ServiceNamespace).Create(ctx, slice, opts); err != nil {
		return fmt.Errorf("create endpointslice %s: %w", slice.Name, err)
	}
	s.Lab.mu.Lock()
	for _, vip := range spec.VIPs {
		s.Lab.services[vip] = spec.Name
	}
	s.Lab.mu.Unlock()
	s.Lab.Prober().Watch(spec.VIPs...)
	return nil
}

// waitAnswered waits until every VIP so far was answered at least once after start.
func (s *ScaleRun) waitAnswered(ctx context.Context, res *ScaleResult, start, last time.Time) error {
	deadline := time.Now().Add(scaleAnnounceLimit)
	for {
		latest, n := s.answered(start)
		res.Answered = n
		if n == s.have {
			v := max(0, ms(latest.Sub(last)))
			res.AllAnsweredMs = &v
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d VIPs answered within %v", n, s.have, scaleAnnounceLimit)
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
}

// answered counts the VIPs answered since start (a VIP answered before start counts from
// start) and returns the latest first answer.
func (s *ScaleRun) answered(start time.Time) (time.Time, int) {
	var latest time.Time
	n := 0
	for i := range s.have {
		if first, ok := FirstAnswer(s.Lab.Timeline().Segments(ScaleVIP(i)), start); ok {
			n++
			if first.After(latest) {
				latest = first
			}
		}
	}
	return latest, n
}

func (s *ScaleRun) splitVIPs(from, to time.Time) int {
	n := 0
	for i := range s.have {
		if Analyze(s.Lab.Timeline().Segments(ScaleVIP(i)), from, to).SplitBrain > 0 {
			n++
		}
	}
	return n
}

// steady measures lease request rates and the daemons' RSS and CPU over s.Steady.
func (s *ScaleRun) steady(ctx context.Context, res *ScaleResult) error {
	before, err := scrapeLeaseRequests(ctx, s.Lab)
	if err != nil {
		return err
	}
	p0, err := s.sampleAll()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := sleepCtx(ctx, s.Steady); err != nil {
		return err
	}
	after, err := scrapeLeaseRequests(ctx, s.Lab)
	if err != nil {
		return err
	}
	p1, err := s.sampleAll()
	if err != nil {
		return err
	}
	res.SteadySeconds = time.Since(start).Seconds()
	res.SteadyDarkVIPs, res.SteadyDarkS = s.dark(start, time.Now())
	res.LeaseRequests = Rates(before, after, time.Since(start), 0)
	res.LeaseWritesPerS, res.LeaseGetsPerS = WritesAndGets(res.LeaseRequests)
	fillProc(res, p0, p1)
	res.Process = procComm(s.Lab.Nodes()[0].Pid())
	return nil
}

// dark counts the VIPs nobody answered at some round in [from, to] and their dark time, and
// logs each dark run (when, how long, who answered before) so a report can say where they
// came from.
func (s *ScaleRun) dark(from, to time.Time) (int, float64) {
	n, total := 0, time.Duration(0)
	for i := range s.have {
		segs := s.Lab.Timeline().Segments(ScaleVIP(i))
		d := Analyze(segs, from, to).Dark
		if d <= 0 {
			continue
		}
		n, total = n+1, total+d
		s.logDark(ScaleVIP(i), segs, from, to)
	}
	return n, total.Seconds()
}

func (s *ScaleRun) logDark(ip netip.Addr, segs []Segment, from, to time.Time) {
	prev := ""
	for _, seg := range segs {
		if len(seg.Nodes) == 0 && !seg.Last.Before(from) && !seg.Start.After(to) {
			s.Logger.Info("steady dark run", "vip", ip.String(), "at", seg.Start.Sub(from).Round(time.Millisecond),
				"rounds", seg.Count, "answered before by", prev)
		}
		if len(seg.Nodes) > 0 {
			prev = strings.Join(seg.Nodes, ",")
		}
	}
}

func (s *ScaleRun) sampleAll() ([]ProcSample, error) {
	var out []ProcSample
	for _, n := range s.Lab.Nodes() {
		p, err := ReadProc(n.Pid())
		if err != nil {
			return nil, fmt.Errorf("daemon of %s: %w", n.Name(), err)
		}
		out = append(out, p)
	}
	return out, nil
}

func fillProc(res *ScaleResult, p0, p1 []ProcSample) {
	const mib = 1 << 20
	for i := range p1 {
		rss, cpu := float64(p1[i].RSSBytes)/mib, CPUPercent(p0[i], p1[i])
		if i == 0 {
			res.RSSMiB, res.CPUPercent = rss, cpu
		}
		res.MaxRSSMiB, res.MaxCPUPercent = max(res.MaxRSSMiB, rss), max(res.MaxCPUPercent, cpu)
	}
}

func procComm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Unanswered describes up to max VIPs not answered since start: the VIP, its Lease's
// holder and the annotations that say why it last changed, so a failed step's report says
// where to look.
func (s *ScaleRun) Unanswered(ctx context.Context, start time.Time, max int) []string {
	var out []string
	ns := s.Lab.nodes[0].args.Namespace
	for i := 0; i < s.have && len(out) < max; i++ {
		ip := ScaleVIP(i)
		if _, ok := FirstAnswer(s.Lab.Timeline().Segments(ip), start); ok {
			continue
		}
		l, err := s.Lab.Admin().CoordinationV1().Leases(ns).Get(ctx, lease.Name(ip), metav1.GetOptions{})
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s (%s): %v", ip, s.Lab.ServiceOf(ip), err))
		default:
			out = append(out, fmt.Sprintf("%s (%s): holder %q, annotations %v", ip, s.Lab.ServiceOf(ip),
				ptr.Deref(l.Spec.HolderIdentity, ""), l.Annotations))
		}
	}
	return out
}
