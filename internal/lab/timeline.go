package lab

import (
	"net/netip"
	"slices"
	"sync"
	"time"
)

// maxAnnouncements bounds the gratuitous ARP / unsolicited NA log of a long-running lab.
const maxAnnouncements = 10000

// Segment is a run of consecutive probe rounds in which the same set of nodes answered one
// VIP. It covers [Start, the next segment's Start), or [Start, Last] for the newest one.
type Segment struct {
	Start time.Time // send time of the first round of the run
	Last  time.Time // send time of the last round of the run
	Nodes []string  // sorted node names that answered; empty: nobody (dark)
	Count int       // rounds in the run
}

// Holder is one observed Lease holder of a VIP, from Start until the next change.
type Holder struct {
	Start  time.Time
	Holder string // "" when the Lease is missing or released
}

// Announcement is one gratuitous ARP or unsolicited Neighbor Advertisement seen by the client.
type Announcement struct {
	At   time.Time
	VIP  netip.Addr
	Node string
}

// Mark is a labelled instant, such as the start or end of a fault.
type Mark struct {
	At    time.Time
	Label string
}

// Timeline records what the client saw (who answered ARP/NDP per VIP, announcements) and
// what the API said (Lease holders), compressed into runs so a lab can run for days. It is
// safe for concurrent use; the analysis functions (Analyze, TimeToHealthy, FirstAnswer) are
// pure functions of the returned copies.
type Timeline struct {
	mu       sync.Mutex
	segments map[netip.Addr][]Segment
	holders  map[netip.Addr][]Holder
	apiErr   error
	apiSince time.Time // first failure of the current run of Lease read failures
	announce []Announcement
	marks    []Mark
}

// NewTimeline returns an empty Timeline.
func NewTimeline() *Timeline {
	return &Timeline{segments: map[netip.Addr][]Segment{}, holders: map[netip.Addr][]Holder{}}
}

// Record adds one probe round for vip sent at at, answered by nodes (any order).
func (t *Timeline) Record(vip netip.Addr, at time.Time, nodes []string) {
	nodes = slices.Clone(nodes)
	slices.Sort(nodes)
	nodes = slices.Compact(nodes)
	t.mu.Lock()
	defer t.mu.Unlock()
	segs := t.segments[vip]
	if n := len(segs); n > 0 && slices.Equal(segs[n-1].Nodes, nodes) {
		segs[n-1].Last = at
		segs[n-1].Count++
		return
	}
	t.segments[vip] = append(segs, Segment{Start: at, Last: at, Nodes: nodes, Count: 1})
}

// RecordHolders records one successful read of the Lease holders ("" for a VIP without a
// Lease or with a released one), or the error of a failed read.
func (t *Timeline) RecordHolders(at time.Time, holders map[netip.Addr]string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		if t.apiErr == nil {
			t.apiSince = at
		}
		t.apiErr = err
		return
	}
	t.apiErr = nil
	for vip, h := range holders {
		hs := t.holders[vip]
		if n := len(hs); n == 0 || hs[n-1].Holder != h {
			t.holders[vip] = append(hs, Holder{Start: at, Holder: h})
		}
	}
}

// RecordAnnouncement logs one gratuitous ARP or unsolicited NA.
func (t *Timeline) RecordAnnouncement(a Announcement) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.announce) >= maxAnnouncements {
		t.announce = slices.Delete(t.announce, 0, len(t.announce)/2)
	}
	t.announce = append(t.announce, a)
}

// Mark records a labelled instant now and returns it.
func (t *Timeline) Mark(label string) time.Time {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.marks = append(t.marks, Mark{At: now, Label: label})
	return now
}

// Segments returns a copy of vip's runs, oldest first.
func (t *Timeline) Segments(vip netip.Addr) []Segment {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.segments[vip])
}

// Holders returns a copy of vip's Lease holder history, oldest first.
func (t *Timeline) Holders(vip netip.Addr) []Holder {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.holders[vip])
}

// Holder returns vip's last known Lease holder and whether one was ever read.
func (t *Timeline) Holder(vip netip.Addr) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs := t.holders[vip]
	if len(hs) == 0 {
		return "", false
	}
	return hs[len(hs)-1].Holder, true
}

// APIError returns the error of the latest Lease read and when the failures began, or nil.
func (t *Timeline) APIError() (error, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.apiErr, t.apiSince
}

// Announcements returns the announcements for vip seen at or after since.
func (t *Timeline) Announcements(vip netip.Addr, since time.Time) []Announcement {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Announcement
	for _, a := range t.announce {
		if a.VIP == vip && !a.At.Before(since) {
			out = append(out, a)
		}
	}
	return out
}

// Marks returns every mark, oldest first.
func (t *Timeline) Marks() []Mark {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.marks)
}

// Current returns the newest run for vip (zero if never probed).
func (t *Timeline) Current(vip netip.Addr) (Segment, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	segs := t.segments[vip]
	if len(segs) == 0 {
		return Segment{}, false
	}
	s := segs[len(segs)-1]
	s.Nodes = slices.Clone(s.Nodes)
	return s, true
}
