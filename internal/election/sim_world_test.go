package election

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// The model: N nodes, several VIPs, one in-memory API server with the real semantics of
// the records (resourceVersion CAS, presence renewals conditioned on holder and
// incarnation, finalizers), and a network and shell with faults, all in virtual time.
// Nothing here runs concurrently; every happening is a closure in a queue.

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

// simRec is one stored record.
type simRec struct {
	Record
	finalizer bool
}

// simStore is the API server: every record, and one revision counter (etcd's).
type simStore struct {
	recs map[Ref]simRec
	rev  int
}

func (s *simStore) get(r Ref) (Record, ErrClass) {
	rec, ok := s.recs[r]
	if !ok {
		return Record{}, ClassNotFound
	}
	return rec.Record, ClassNone
}

func (s *simStore) put(r Ref, rec simRec) Record {
	s.rev++
	rec.Exists, rec.RV = true, fmt.Sprint(s.rev)
	s.recs[r] = rec
	return rec.Record
}

func (s *simStore) remove(r Ref) {
	s.rev++
	delete(s.recs, r)
}

// apply performs write w by node id. It reports whether anything changed.
func (s *simStore) apply(id string, w Write) (Record, ErrClass, bool) {
	cur, exists := s.recs[w.Ref]
	if w.Op == OpCreate {
		if exists {
			return Record{}, ClassConflict, false
		}
		return s.put(w.Ref, simRec{Record: Record{Holder: id, Incarnation: w.Incarnation, Token: w.Token},
			finalizer: w.Ref.Kind == KindVIP}), ClassNone, true
	}
	if !exists {
		return Record{}, ClassNotFound, false
	}
	if w.Op == OpRenew || (w.Op == OpRelease && w.Ref.Kind == KindNode) {
		// the patch tests the record's node and incarnation: a renewal a peer relays
		// (ride-through) names the holder, not the writer
		if cur.Holder != w.Ref.Node || cur.Incarnation != w.Incarnation {
			return Record{}, ClassConflict, false // the patch's test failed (422)
		}
	} else if cur.RV != w.Base.RV {
		return Record{}, ClassConflict, false
	}
	return s.change(id, w, cur)
}

func (s *simStore) change(id string, w Write, cur simRec) (Record, ErrClass, bool) {
	next := cur
	switch w.Op {
	case OpAcquire:
		if cur.Holder != id {
			next.Transitions++
		}
		next.Holder, next.Incarnation, next.Token, next.finalizer = id, w.Incarnation, w.Token, w.Ref.Kind == KindVIP
	case OpRenew:
		next.Token = w.Token
	case OpRelease, OpRevoke:
		next.Holder, next.finalizer = "", false
		if cur.Terminating {
			s.remove(w.Ref)
			return Record{}, ClassNone, true
		}
	case OpDelete:
		return s.delete(w.Ref, cur)
	}
	return s.put(w.Ref, next), ClassNone, true
}

// delete is a DELETE: with the finalizer on, the record only becomes terminating.
func (s *simStore) delete(r Ref, cur simRec) (Record, ErrClass, bool) {
	if cur.finalizer {
		cur.Terminating = true
		return s.put(r, cur), ClassNone, true
	}
	s.remove(r)
	return Record{}, ClassNone, true
}

// simTrace is a ring of the last happenings, printed when a seed fails. Entries are
// formatted only then.
type simTrace struct {
	ring [simTraceLen]simEntry
	next int
}

type simEntry struct {
	at     time.Duration
	format string
	args   []any
}

const simTraceLen = 800

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
	vips   []netip.Addr
	wanted map[netip.Addr]bool
	wants  map[netip.Addr]*simWant
	ride   bool // Config.Ride is on: peer channel, clock rates within ρ (sim_ride_test.go)
	gen    int  // bumped when faults stop: older observations are dropped
	healed bool
	heal   time.Duration
	end    time.Duration

	apiDownUntil, apiSlowUntil time.Duration
	slowBy                     time.Duration // latency added while slow

	quietUntil                   time.Duration // no new fault before (sim_ride_test.go)
	peerLossUntil, peerSlowUntil time.Duration // faults of the peer channel (sim_peer_test.go)
	peerLoss                     float64
	peerLag                      time.Duration

	stats simStats
	trace simTrace
	fail  string
	// liveness: per VIP, when it was last seen without an announcer after the faults
	// stopped (heal when it never was)
	darkSince map[netip.Addr]time.Duration
	recovered time.Duration
	bound     time.Duration
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

// simMaxSteps bounds one run.
const simMaxSteps = 2_000_000

func (w *simWorld) logf(format string, args ...any) { w.trace.add(w.now, format, args) }

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

// chance draws a fault of probability p; none comes once the faults stopped, or during a
// quiet spell (isolateAndRestartOthers).
func (w *simWorld) chance(p float64) bool {
	return !w.healed && w.now >= w.quietUntil && w.rng.Float64() < p
}

// netDelay is one network+server leg. Under faults some legs outlast the caller's timeout
// (the write lands after the shell reported a timeout), and a slow API server adds its
// latency to every leg, as a slow etcd does to every request.
func (w *simWorld) netDelay() time.Duration {
	d := w.uniform(time.Millisecond, 20*time.Millisecond)
	if w.healed {
		return d
	}
	if w.now < w.apiSlowUntil {
		d += w.uniform(w.slowBy/2, w.slowBy)
	}
	if w.chance(0.05) {
		d += w.uniform(0, 3*w.cfg.RetryPeriod)
	}
	return d
}

// changed tells every node's informer about a record's new state.
func (w *simWorld) changed(r Ref) {
	rec, _ := w.store.get(r)
	rv := fmt.Sprint(w.store.rev)
	for _, n := range w.nodes {
		if n.cut() || w.chance(0.03) {
			n.missed = true // a dropped watch event: the informer relists later
			continue
		}
		d := w.uniform(time.Millisecond, 30*time.Millisecond)
		if w.chance(0.1) {
			d = w.uniform(0, 3*time.Second) // a slow informer
		}
		n.observeAfter(d, r, rec, rv)
	}
}

// activeAnnouncers lists, for ip, the nodes whose kernel holds the address now.
func (w *simWorld) activeAnnouncers(ip netip.Addr) []*simNode {
	var act []*simNode
	for _, n := range w.nodes {
		if a, ok := n.addrs[ip]; ok && w.now < a {
			act = append(act, n)
		}
	}
	return act
}

func (w *simWorld) checkSafety(ip netip.Addr) {
	if act := w.activeAnnouncers(ip); len(act) > 1 {
		var ids []string
		for _, n := range act {
			ids = append(ids, fmt.Sprintf("%s(until %.3f)", n.id, n.addrs[ip].Seconds()))
		}
		w.violate("two nodes announce %s: %s", ip, strings.Join(ids, ", "))
	}
}

// simStats counts what the runs exercised, to show the model is not vacuous.
type simStats struct {
	steps, installs, takeovers, lateLandings, writes, revokes int
	refusals, removeFails, adminDeletes, sweepFails           int
	ops                                                       map[string]int
	ride                                                      simRideStats
}

func (s *simStats) add(o simStats) {
	s.steps += o.steps
	s.installs += o.installs
	s.takeovers += o.takeovers
	s.lateLandings += o.lateLandings
	s.writes += o.writes
	s.revokes += o.revokes
	s.refusals += o.refusals
	s.removeFails += o.removeFails
	s.adminDeletes += o.adminDeletes
	s.sweepFails += o.sweepFails
	s.ride.add(o.ride)
	if s.ops == nil {
		s.ops = map[string]int{}
	}
	for k, v := range o.ops {
		s.ops[k] += v
	}
}
