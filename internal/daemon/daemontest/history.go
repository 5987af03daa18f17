package daemontest

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Kind is what an Event records.
type Kind string

// The recorded kinds.
const (
	KindAdd    Kind = "add"    // Dataplane.Add returned
	KindRemove Kind = "remove" // Dataplane.Remove returned
	KindWrite  Kind = "write"  // LeaseStore.Write returned
	KindRead   Kind = "read"   // LeaseStore.Get returned
)

// Event is one call through a wrapper, recorded when it returned.
type Event struct {
	Seq    int       // order of return, across all nodes
	At     time.Time // when the call started (a write's issue time)
	Done   time.Time // when it returned
	Node   string
	Kind   Kind
	VIP    netip.Addr  // add, remove
	Until  time.Time   // add
	Lease  string      // write, read
	Op     election.Op // write
	Mode   Mode        // the fault mode the call ran under
	Landed bool        // write, read: the call reached the API
	Holder string      // write, read: holder of the returned Lease ("" if none)
	RV     string      // write, read: resourceVersion of the returned Lease
	Err    error
}

// OK reports whether the call returned no error.
func (e Event) OK() bool { return e.Err == nil }

func (e Event) String() string {
	s := fmt.Sprintf("#%d %s %s %s", e.Seq, e.At.Format("15:04:05.000"), e.Node, e.Kind)
	switch e.Kind {
	case KindAdd:
		s += fmt.Sprintf(" %s until %s", e.VIP, e.Until.Format("15:04:05.000"))
	case KindRemove:
		s += " " + e.VIP.String()
	case KindWrite:
		s += fmt.Sprintf(" %s %s", e.Op, e.Lease)
	case KindRead:
		s += " " + e.Lease
	}
	if e.Kind == KindWrite || e.Kind == KindRead {
		s += fmt.Sprintf(" mode=%s -> holder=%q rv=%s", e.Mode, e.Holder, e.RV)
	}
	if d := e.Done.Sub(e.At); d > 0 {
		s += fmt.Sprintf(" took %v", d)
	}
	if e.Err != nil {
		s += " err: " + e.Err.Error()
	}
	return s
}

// History is the shared log of every node's calls. It is safe for concurrent use.
type History struct {
	mu     sync.Mutex
	events []Event
}

// NewHistory returns an empty History.
func NewHistory() *History { return &History{} }

func (h *History) add(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e.Seq = len(h.events) + 1
	h.events = append(h.events, e)
}

// Events returns the events recorded so far that match keep (nil keeps all), in order.
func (h *History) Events(keep func(Event) bool) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// Last returns the last event that matches keep.
func (h *History) Last(keep func(Event) bool) (Event, bool) {
	evs := h.Events(keep)
	if len(evs) == 0 {
		return Event{}, false
	}
	return evs[len(evs)-1], true
}

// First returns the first event that matches keep.
func (h *History) First(keep func(Event) bool) (Event, bool) {
	evs := h.Events(keep)
	if len(evs) == 0 {
		return Event{}, false
	}
	return evs[0], true
}

// Tail formats the last n events, one per line.
func (h *History) Tail(n int) string {
	evs := h.Events(nil)
	evs = evs[max(0, len(evs)-n):]
	lines := make([]string, len(evs))
	for i, e := range evs {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}
