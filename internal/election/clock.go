package election

import "time"

// clock turns the shell's `now` into core time, which never runs backwards: a step back of
// `now` (a wall-clock jump; impossible with a monotonic reading) counts as zero elapsed
// time. Counting it as zero never shortens a wait (real elapsed time is >= 0), and the fence
// is voided when it happens, because it can no longer be trusted. Durations between core
// times are therefore never longer than the real time elapsed, except for forward jumps,
// which are indistinguishable from a stalled process and are taken as elapsed time.
type clock struct {
	last    time.Time     // latest core time
	off     time.Duration // core = now + off
	started bool
}

// at returns the core time for now and whether now stepped back.
func (c *clock) at(now time.Time) (time.Time, bool) {
	t := now.Add(c.off)
	back := c.started && t.Before(c.last)
	if back {
		c.off += c.last.Sub(t)
		t = c.last
	}
	c.last, c.started = t, true
	return t, back
}

// raw converts a core time back to the shell's clock.
func (c *clock) raw(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(-c.off)
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// backoff is the wait before retry number fails (>= 1): full jitter over an exponential
// ramp from RetryPeriod/4. Transient failures of the presence ramp to RetryPeriod, so a
// node gets several tries inside its renew deadline. Everything else (ClassPermanent here)
// ramps on to LeaseDuration: slow, but never giving up. The ramp starts fast because a
// kube-apiserver that has just restarted answers 403 for a moment while its RBAC cache
// fills; the lab measured a 3.7 s longer outage when the first retry waited RetryPeriod.
func (n *Node) backoff(fails int, class ErrClass) time.Duration {
	base, limit := n.cfg.RetryPeriod/4, n.cfg.RetryPeriod
	if class == ClassPermanent {
		limit = n.cfg.LeaseDuration
	}
	d := base
	for i := 1; i < fails && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if n.cfg.Rand != nil {
		d = time.Duration(clamp01(n.cfg.Rand()) * float64(d))
	}
	return d
}

func clamp01(f float64) float64 {
	if !(f >= 0) { // also NaN
		return 0
	}
	return min(f, 1)
}
