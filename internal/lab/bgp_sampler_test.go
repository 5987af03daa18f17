package lab

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// hopSampler reads the router's next hops for one VIP every 100 ms.
type hopSampler struct {
	mu      sync.Mutex
	samples []hopSample
	stop    func()
	done    chan struct{}
}

type hopSample struct {
	at   time.Time
	hops []string
}

func sampleHops(l *Lab, vip netip.Addr) *hopSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &hopSampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			hops, err := l.NextHops(vip)
			if err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, hopSample{time.Now(), hops})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// since returns the samples taken from t on, and how many had zero or more than one hop.
func (s *hopSampler) since(from time.Time) (out []hopSample, zero, many int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.samples {
		if x.at.Before(from) {
			continue
		}
		out = append(out, x)
		switch {
		case len(x.hops) == 0:
			zero++
		case len(x.hops) > 1:
			many++
		}
	}
	return out, zero, many
}

func (s *hopSampler) last() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return nil
	}
	return s.samples[len(s.samples)-1].hops
}

// longestDark is the longest run of samples from t on with no next hop, measured from the
// last sample before it to the first after it (an upper bound, 100 ms resolution).
func (s *hopSampler) longestDark(from time.Time) time.Duration {
	out, _, _ := s.since(from)
	var longest time.Duration
	for i := 0; i < len(out); i++ {
		if len(out[i].hops) != 0 {
			continue
		}
		j := i
		for j < len(out) && len(out[j].hops) == 0 {
			j++
		}
		start, end := out[max(i-1, 0)].at, out[min(j, len(out)-1)].at
		longest = max(longest, end.Sub(start))
		i = j
	}
	return longest
}

// firstWithout returns when, from t on, the samples first stopped showing node.
func (s *hopSampler) firstWithout(from time.Time, node string) (time.Time, bool) {
	out, _, _ := s.since(from)
	for _, x := range out {
		if !slices.Contains(x.hops, node) {
			return x.at, true
		}
	}
	return time.Time{}, false
}
