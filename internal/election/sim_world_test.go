package election

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The model: N electors, one in-memory CAS store, and a network and shell with faults, all
// in virtual time. Nothing here runs concurrently; every happening is a closure in a queue.

var simEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type simItem struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type simQueue []*simItem

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simItem)) }
func (q *simQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// simStore is the API server: a single Lease with resourceVersion CAS.
type simStore struct {
	exists  bool
	rec     Record
	rv      int
	history []Record
}

func (s *simStore) current() (Record, ErrClass) {
	if !s.exists {
		return Record{}, ClassNotFound
	}
	return s.rec, ClassNone
}

// apply performs one write for node id. It reports whether the Lease changed.
func (s *simStore) apply(id string, w Write) (Record, ErrClass, bool) {
	if w.Op == OpCreate {
		if s.exists {
			return Record{}, ClassConflict, false
		}
		return s.put(Record{Exists: true, Holder: id, Token: w.Token}), ClassNone, true
	}
	switch {
	case !s.exists:
		return Record{}, ClassNotFound, false
	case s.rec.RV != w.Base.RV:
		return Record{}, ClassConflict, false
	case w.Op == OpDelete:
		s.rv++
		s.exists, s.rec = false, Record{}
		return Record{}, ClassNone, true
	}
	next := s.rec
	next.Holder, next.Token = id, w.Token
	if w.Op == OpRelease {
		next.Holder, next.Token = "", ""
	} else if s.rec.Holder != id && s.rec.Holder != "" {
		next.Transitions++
	}
	return s.put(next), ClassNone, true
}

func (s *simStore) put(r Record) Record {
	s.rv++
	r.RV = fmt.Sprint(s.rv)
	s.exists, s.rec = true, r
	s.history = append(s.history, r)
	return r
}

// simTrace is a ring of the last happenings, printed when a seed fails. Entries are
// formatted only then: formatting every step would dominate the run time.
type simTrace struct {
	ring [simTraceLen]simEntry
	next int
}

type simEntry struct {
	at     time.Duration
	format string
	args   []any
}

const simTraceLen = 600

func (tr *simTrace) add(at time.Duration, format string, args []any) {
	tr.ring[tr.next%simTraceLen] = simEntry{at: at, format: format, args: args}
	tr.next++
}

func (tr *simTrace) String() string {
	var b strings.Builder
	for i := max(0, tr.next-simTraceLen); i < tr.next; i++ {
		en := tr.ring[i%simTraceLen]
		fmt.Fprintf(&b, "%9.3f "+en.format+"\n", append([]any{en.at.Seconds()}, en.args...)...)
	}
	return b.String()
}

// simWorld holds the queue, the store, the nodes and the global fault state.
type simWorld struct {
	seed   uint64
	rng    *rand.Rand
	cfg    Config
	now    time.Duration
	seq    uint64
	q      simQueue
	store  simStore
	nodes  []*simNode
	gen    int // bumped when faults stop: older observations and eligibility are dropped
	healed bool
	heal   time.Duration // when faults stop
	end    time.Duration

	apiDownUntil, apiSlowUntil time.Duration

	stats simStats
	trace simTrace
	fail  string // first violation
	// liveness bookkeeping
	bound     time.Duration
	recovered time.Duration // when the VIP was last seen dark (or heal)
}

func (w *simWorld) after(d time.Duration, fn func()) {
	w.seq++
	heap.Push(&w.q, &simItem{at: w.now + max(d, 0), seq: w.seq, fn: fn})
}

func (w *simWorld) run() {
	for w.q.Len() > 0 && w.fail == "" {
		it := heap.Pop(&w.q).(*simItem)
		if it.at > w.end {
			return
		}
		w.now = it.at
		it.fn()
		if w.stats.steps > simMaxSteps {
			w.violate("more than %d steps: a busy loop?", simMaxSteps)
		}
	}
}

func (w *simWorld) logf(format string, args ...any) {
	w.trace.add(w.now, format, args)
}

func (w *simWorld) violate(format string, args ...any) {
	if w.fail == "" {
		w.fail = fmt.Sprintf("t=%.3fs: ", w.now.Seconds()) + fmt.Sprintf(format, args...)
	}
}

func (w *simWorld) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rng.Int64N(int64(hi-lo)))
}

func (w *simWorld) chance(p float64) bool { return w.rng.Float64() < p }

// netDelay is one network+server leg. Under faults some legs are long enough to outlast
// the caller's timeout: the write then lands after the shell reported a timeout.
func (w *simWorld) netDelay(timeout time.Duration) time.Duration {
	switch {
	case w.healed:
		return w.uniform(time.Millisecond, simCalmDelay)
	case w.now < w.apiSlowUntil || w.chance(0.08):
		return w.uniform(0, timeout*3/2)
	}
	return w.uniform(time.Millisecond, 30*time.Millisecond)
}

const simCalmDelay = 20 * time.Millisecond

// simMaxSteps bounds one run; a run takes a few hundred steps per virtual minute.
const simMaxSteps = 200_000

// changed tells every node's informer about the store's new state.
func (w *simWorld) changed() {
	rec, _ := w.store.current()
	for _, n := range w.nodes {
		if !w.healed && (n.cut() || w.chance(0.05)) {
			continue // a dropped watch event
		}
		d := w.uniform(time.Millisecond, 40*time.Millisecond)
		if !w.healed && w.chance(0.1) {
			d = w.uniform(0, 3*time.Second) // a slow informer: arrives out of order
		}
		n.observeAfter(d, rec)
	}
}

// activeAnnouncers lists the nodes whose address is up now (kernel lifetime included).
func (w *simWorld) activeAnnouncers() []*simNode {
	var act []*simNode
	for _, n := range w.nodes {
		if n.ann && w.now < n.annExpire {
			act = append(act, n)
		}
	}
	return act
}

func (w *simWorld) checkSafety() {
	if act := w.activeAnnouncers(); len(act) > 1 {
		var ids []string
		for _, n := range act {
			ids = append(ids, fmt.Sprintf("%s(until %.3f)", n.id, n.annExpire.Seconds()))
		}
		w.violate("two nodes announce at once: %s", strings.Join(ids, ", "))
	}
}

// simStats counts what runs exercised, to show the model is not vacuous.
type simStats struct {
	steps, takeovers, lateLandings, writes int
	stepDowns                              map[string]int
	results                                map[ErrClass]int
}

func (s *simStats) add(o simStats) {
	s.steps += o.steps
	s.takeovers += o.takeovers
	s.lateLandings += o.lateLandings
	s.writes += o.writes
	if s.stepDowns == nil {
		s.stepDowns, s.results = map[string]int{}, map[ErrClass]int{}
	}
	for k, v := range o.stepDowns {
		s.stepDowns[k] += v
	}
	for k, v := range o.results {
		s.results[k] += v
	}
}
