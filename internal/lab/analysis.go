package lab

import "time"

// Stats summarises what the client saw of one VIP within a window. Durations have the
// resolution of the probe interval: one unanswered round counts as one interval.
type Stats struct {
	LongestOutage time.Duration // longest time in which no node answered
	Dark          time.Duration // total time in which no node answered
	SplitBrain    time.Duration // total time in which two or more nodes answered
	HolderChanges int           // changes of the single answering node (outages and splits skipped)
	Answered      []string      // every node that answered at some time, in order of first answer
}

// span is the time segs[i] covers: until the next run starts, the newest until its last round.
func span(segs []Segment, i int) (start, end time.Time) {
	if i+1 < len(segs) {
		return segs[i].Start, segs[i+1].Start
	}
	return segs[i].Start, segs[i].Last
}

// clipped is the part of segs[i] within [from, to] (a zero bound is open); ok is false
// when the run lies wholly outside.
func clipped(segs []Segment, i int, from, to time.Time) (start, end time.Time, ok bool) {
	start, end = span(segs, i)
	if !to.IsZero() && start.After(to) || !from.IsZero() && end.Before(from) {
		return start, end, false
	}
	if !from.IsZero() && start.Before(from) {
		start = from
	}
	if !to.IsZero() && end.After(to) {
		end = to
	}
	return start, end, true
}

// Analyze computes Stats for the runs segs (one VIP, oldest first) within [from, to];
// a zero from or to leaves that side open. Time before the first round is not counted.
func Analyze(segs []Segment, from, to time.Time) Stats {
	var st Stats
	seen := map[string]bool{}
	prev := ""
	for i, s := range segs {
		start, end, ok := clipped(segs, i, from, to)
		if !ok {
			continue
		}
		d := end.Sub(start)
		switch len(s.Nodes) {
		case 0:
			st.Dark += d
			st.LongestOutage = max(st.LongestOutage, d)
		case 1:
			if prev != "" && prev != s.Nodes[0] {
				st.HolderChanges++
			}
			prev = s.Nodes[0]
		default:
			st.SplitBrain += d
		}
		for _, n := range s.Nodes {
			if !seen[n] {
				seen[n] = true
				st.Answered = append(st.Answered, n)
			}
		}
	}
	return st
}

// TimeToHealthy finds the first instant at or after since from which exactly one node
// answered, the same one, for at least stable. It returns that node and how long after
// since the instant lies; ok is false if the runs show no such instant (yet). A zero since
// means the first round.
func TimeToHealthy(segs []Segment, since time.Time, stable time.Duration) (node string, after time.Duration, ok bool) {
	if since.IsZero() && len(segs) > 0 {
		since = segs[0].Start
	}
	for i, s := range segs {
		start, end, in := clipped(segs, i, since, time.Time{})
		if !in || len(s.Nodes) != 1 || end.Sub(start) < stable {
			continue
		}
		return s.Nodes[0], start.Sub(since), true
	}
	return "", 0, false
}

// FirstAnswer returns the first instant at or after since at which any node answered.
func FirstAnswer(segs []Segment, since time.Time) (time.Time, bool) {
	for i, s := range segs {
		start, _, in := clipped(segs, i, since, time.Time{})
		if in && len(s.Nodes) > 0 {
			return start, true
		}
	}
	return time.Time{}, false
}
