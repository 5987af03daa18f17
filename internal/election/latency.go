package election

import (
	"slices"
	"time"
)

// latencyWindow is how many recent request durations size the timeouts.
const latencyWindow = 32

// latency keeps the durations of recent requests. A request that timed out counts as its
// timeout: a lower bound of its true latency, so a slow API server grows the next timeout
// geometrically up to the cap instead of cancelling every request that would have landed.
type latency struct {
	ring [latencyWindow]time.Duration
	n    int
}

func (l *latency) add(d time.Duration) {
	l.ring[l.n%latencyWindow] = max(d, 0)
	l.n++
}

// p90 is the 90th percentile of the window (0 with no sample).
func (l *latency) p90() time.Duration {
	k := min(l.n, latencyWindow)
	if k == 0 {
		return 0
	}
	s := slices.Clone(l.ring[:k])
	slices.Sort(s)
	return s[idx90(k)]
}

// idx90 is the nearest-rank index of the 90th percentile of k sorted samples: ceil(0.9k) - 1.
func idx90(k int) int { return (9*k+9)/10 - 1 }

// attemptTimeout sizes the timeout of a read or ownership write: three times the recent
// 90th percentile, within [AttemptTimeout, MaxAttemptTimeout].
func (n *Node) attemptTimeout() time.Duration {
	d := 3 * n.lat.p90()
	return min(max(d, n.cfg.AttemptTimeout), n.cfg.MaxAttemptTimeout)
}
