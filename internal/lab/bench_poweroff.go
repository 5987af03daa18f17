package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// PowerOffResult is the power-off step of a scale run: the node answering the most VIPs is
// frozen (SIGSTOP) with its data link down, as the leader-power-off scenario does, and
// revived LeaseDuration + 2 RetryPeriod + 5 s later.
type PowerOffResult struct {
	Node           string `json:"node"`
	VIPs           int    `json:"vips"`               // VIPs it answered when powered off
	AllElsewhereMs *int64 `json:"all_elsewhere_ms"`   // power-off -> every one of them answered by another node; null: not all
	AnsweredElse   int    `json:"answered_elsewhere"` // of them, answered by another node
	SplitVIPs      int    `json:"split_vips"`         // VIPs two nodes answered at some round, until 10 s after the revival
	Error          string `json:"error,omitempty"`
}

// PowerOff powers off the node answering the most VIPs and measures the takeover.
func (s *ScaleRun) PowerOff(ctx context.Context) PowerOffResult {
	victim, held := s.busiest()
	res := PowerOffResult{Node: victim.Name(), VIPs: len(held)}
	start := time.Now()
	err := victim.Pause()
	if err == nil {
		err = victim.SetDataLink(ctx, false)
	}
	if err == nil {
		err = s.waitElsewhere(ctx, &res, victim.Name(), held, start)
	}
	t := s.Lab.Config().Timing
	if err == nil {
		err = sleepCtx(ctx, time.Until(start.Add(t.LeaseDuration+2*t.RetryPeriod+5*time.Second)))
	}
	err = joinErrs(err, victim.SetDataLink(ctx, true), victim.Continue())
	if err == nil {
		err = sleepCtx(ctx, 10*time.Second)
	}
	res.SplitVIPs = s.splitVIPs(start, time.Now())
	res.Error = errString(err)
	s.Logger.Info("power-off done", "node", res.Node, "vips", res.VIPs, "all_elsewhere_ms", optMs(res.AllElsewhereMs),
		"split_vips", res.SplitVIPs, "err", res.Error)
	return res
}

// busiest is the node that answered the most VIPs at the last probe round.
func (s *ScaleRun) busiest() (*Node, []netip.Addr) {
	by := map[string][]netip.Addr{}
	for i := range s.have {
		segs := s.Lab.Timeline().Segments(ScaleVIP(i))
		if len(segs) > 0 && len(segs[len(segs)-1].Nodes) == 1 {
			n := segs[len(segs)-1].Nodes[0]
			by[n] = append(by[n], ScaleVIP(i))
		}
	}
	best := s.Lab.Nodes()[0]
	for _, n := range s.Lab.Nodes() {
		if len(by[n.Name()]) > len(by[best.Name()]) {
			best = n
		}
	}
	return best, by[best.Name()]
}

// waitElsewhere waits until every VIP of held is answered by a node other than victim,
// at most LeaseDuration + scaleAnnounceLimit.
func (s *ScaleRun) waitElsewhere(ctx context.Context, res *PowerOffResult, victim string, held []netip.Addr, start time.Time) error {
	limit := start.Add(s.Lab.Config().Timing.LeaseDuration + scaleAnnounceLimit)
	for time.Now().Before(limit) {
		last, n := s.lastElsewhere(victim, held, start)
		res.AnsweredElse = n
		if n == len(held) {
			ms := last.Sub(start).Milliseconds()
			res.AllElsewhereMs = &ms
			return nil
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%d of %d VIPs answered elsewhere within %v", res.AnsweredElse, len(held), time.Until(limit)+time.Since(start))
}

// lastElsewhere counts the VIPs of held answered after start by one node other than victim,
// and when the last of them first was.
func (s *ScaleRun) lastElsewhere(victim string, held []netip.Addr, start time.Time) (time.Time, int) {
	var last time.Time
	n := 0
	for _, ip := range held {
		for _, seg := range s.Lab.Timeline().Segments(ip) {
			if seg.Last.Before(start) || len(seg.Nodes) != 1 || seg.Nodes[0] == victim {
				continue
			}
			first := later(seg.Start, start)
			n++
			if first.After(last) {
				last = first
			}
			break
		}
	}
	return last, n
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func joinErrs(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
