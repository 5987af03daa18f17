package election

import (
	"container/heap"
	"net/netip"
	"time"
)

// sched keeps what plan must look at: VIPs and peers marked dirty by an event, and wake-up
// times, so that one Step costs what the event touches, not what the node holds.
type sched struct {
	dirtyVIPs  map[netip.Addr]struct{}
	dirtyPeers map[string]struct{}
	wakes      wakeHeap
	vipAt      map[netip.Addr]time.Time // the wake-up each VIP currently wants (zero: none)
	peerAt     map[string]time.Time
}

func newSched() sched {
	return sched{dirtyVIPs: map[netip.Addr]struct{}{}, dirtyPeers: map[string]struct{}{},
		vipAt: map[netip.Addr]time.Time{}, peerAt: map[string]time.Time{}}
}

type wakeEntry struct {
	at   time.Time
	vip  netip.Addr
	peer string
}

type wakeHeap []wakeEntry

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeEntry)) }
func (h *wakeHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func (s *sched) markVIP(ip netip.Addr) { s.dirtyVIPs[ip] = struct{}{} }
func (s *sched) markPeer(p string)     { s.dirtyPeers[p] = struct{}{} }

// wakeVIP asks for plan to look at ip at t (zero: no wake-up needed).
func (s *sched) wakeVIP(ip netip.Addr, t time.Time) {
	if t.IsZero() {
		delete(s.vipAt, ip)
		return
	}
	if cur, ok := s.vipAt[ip]; ok && cur.Equal(t) {
		return
	}
	s.vipAt[ip] = t
	heap.Push(&s.wakes, wakeEntry{at: t, vip: ip})
}

func (s *sched) wakePeer(p string, t time.Time) {
	if t.IsZero() {
		delete(s.peerAt, p)
		return
	}
	if cur, ok := s.peerAt[p]; ok && cur.Equal(t) {
		return
	}
	s.peerAt[p] = t
	heap.Push(&s.wakes, wakeEntry{at: t, peer: p})
}

// due moves every wake-up at or before t into the dirty sets.
func (s *sched) due(t time.Time) {
	for len(s.wakes) > 0 && !s.wakes[0].at.After(t) {
		e := heap.Pop(&s.wakes).(wakeEntry)
		if e.peer != "" {
			if cur, ok := s.peerAt[e.peer]; ok && cur.Equal(e.at) {
				delete(s.peerAt, e.peer)
				s.markPeer(e.peer)
			}
			continue
		}
		if cur, ok := s.vipAt[e.vip]; ok && cur.Equal(e.at) {
			delete(s.vipAt, e.vip)
			s.markVIP(e.vip)
		}
	}
}

// next is the earliest live wake-up (zero: none). Stale entries are dropped on the way.
func (s *sched) next() time.Time {
	for len(s.wakes) > 0 {
		e := s.wakes[0]
		live := false
		if e.peer != "" {
			cur, ok := s.peerAt[e.peer]
			live = ok && cur.Equal(e.at)
		} else {
			cur, ok := s.vipAt[e.vip]
			live = ok && cur.Equal(e.at)
		}
		if live {
			return e.at
		}
		heap.Pop(&s.wakes)
	}
	return time.Time{}
}

// earliest returns the earlier non-zero time.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
