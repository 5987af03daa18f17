package peer

import (
	"math"
	"time"
)

const (
	windowSize = 64   // counters accepted behind a sender's highest, as in IPsec (RFC 4303 3.4.3)
	maxSenders = 4096 // senders with replay state; the oldest is forgotten beyond
)

// window is one sender's replay state: the highest counter accepted and a bitmap of the
// windowSize counters at and below it (bit i: top-i was accepted).
type window struct {
	top  uint64
	bits uint64
}

// accept records c and reports whether it is new: above top, or within the window and
// not yet seen.
func (w *window) accept(c uint64) bool {
	switch {
	case c > w.top:
		if shift := c - w.top; shift < windowSize {
			w.bits = w.bits<<shift | 1
		} else {
			w.bits = 1
		}
		w.top = c
		return true
	case w.top-c >= windowSize:
		return false
	}
	bit := uint64(1) << (w.top - c)
	if w.bits&bit != 0 {
		return false
	}
	w.bits |= bit
	return true
}

// replay holds the windows of up to maxSenders senders. Only authenticated datagrams
// reach it, so only key holders can make it forget a sender. Not safe for concurrent use:
// the receive loop owns it.
type replay struct {
	window  time.Duration
	senders map[string]*window
}

func newReplay(freshness time.Duration) *replay {
	return &replay{window: freshness, senders: map[string]*window{}}
}

// check accepts counter c from sender and returns nil, errReplay or errStale. A sender
// without state is accepted only if c, read as Unix nanoseconds, is within the freshness
// window of now: counters follow the sender's wall clock (see Channel.next).
func (r *replay) check(sender string, c uint64, now time.Time) error {
	if w, ok := r.senders[sender]; ok {
		if !w.accept(c) {
			return errReplay
		}
		return nil
	}
	if !fresh(c, now, r.window) {
		return errStale
	}
	if len(r.senders) >= maxSenders {
		r.evictOldest()
	}
	r.senders[sender] = &window{top: c, bits: 1}
	return nil
}

// fresh reports whether counter c, read as Unix nanoseconds, is within window of now.
func fresh(c uint64, now time.Time, window time.Duration) bool {
	n := now.UnixNano()
	return c <= math.MaxInt64 && int64(c) >= n-int64(window) && int64(c) <= n+int64(window)
}

// evictOldest forgets the sender whose highest counter is lowest: the one heard from
// longest ago, as counters are wall-clock times.
func (r *replay) evictOldest() {
	var oldest string
	var top uint64
	for name, w := range r.senders {
		if oldest == "" || w.top < top {
			oldest, top = name, w.top
		}
	}
	delete(r.senders, oldest)
}
