package election

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Node is the election state machine of one process: its own presence, what it knows of
// its peers' presence, and the ownership and data-plane state of every VIP it cares about.
// It is not safe for concurrent use: one goroutine (the shell's loop) calls Step and the
// accessors.
type Node struct {
	cfg Config
	clk clock
	era int    // bumped when now steps back: earlier emission times cannot fence
	seq uint64 // events stepped so far: orders what was learned when

	self  presence
	peers map[string]*peer
	vips  map[netip.Addr]*vip
	// byHolder indexes the VIPs whose current record names a node, so a change of that
	// node's presence touches just its VIPs.
	byHolder map[string]map[netip.Addr]struct{}

	attempts map[uint64]*attempt // requests in flight, by ID
	lastID   uint64
	busy     int // reads and ownership writes in flight (bounded by MaxInflight)
	lat      latency
	sched    sched
	waitQ    []waiter
	waitSet  map[waiter]struct{}
	woken    []waiter
	active   map[netip.Addr]struct{} // VIPs whose address may be up

	sweepFailedAt time.Time // core time of the last failed start-up sweep (zero: none)
	sweepRetry    time.Time // when to ask for the sweep again
	sweepAsked    bool

	rd     rideState // the ride-through (ride.go)
	outbox []Action  // peer messages decided while handling a result, emitted by plan

	stopping, stopped bool
}

// attempt is one read or write in flight.
type attempt struct {
	id    uint64
	write bool
	ref   Ref
	op    Op
	base  Record
	token string
	inc   string
	emit  time.Time
	era   int
	seq   uint64 // n.seq when issued: an answer is newer than anything learned before
	owner bool   // counted in n.busy
}

// New validates cfg (after WithDefaults) and returns a node that makes no write until its
// first Ticked or other event.
func New(cfg Config) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new election node %q: %w", cfg.Identity, err)
	}
	return &Node{cfg: cfg, peers: map[string]*peer{}, vips: map[netip.Addr]*vip{},
		byHolder: map[string]map[netip.Addr]struct{}{}, attempts: map[uint64]*attempt{},
		sched: newSched(), waitSet: map[waiter]struct{}{}, active: map[netip.Addr]struct{}{},
		rd: newRideState()}, nil
}

// Step feeds one event at time now (the shell's time.Now(), monotonic) and returns the
// actions to execute in order. It is deterministic: the same state, now and event always
// yield the same actions.
func (n *Node) Step(now time.Time, ev Event) []Action {
	if n.stopped {
		return nil
	}
	t, back := n.clk.at(now)
	n.seq++
	if n.self.inc == "" {
		n.self.inc = n.newIncarnation(now)
	}
	var out []Action
	if back {
		out = n.clockStepped(t, out)
	}
	out = n.handle(t, ev, out)
	return n.plan(t, out)
}

// NextWake is when the shell must send Ticked next (zero: nothing scheduled).
func (n *Node) NextWake() time.Time {
	if n.stopped || !n.clk.started {
		return time.Time{}
	}
	w := earliest(n.self.wake(n), n.sched.next())
	w = earliest(w, n.sweepRetry)
	w = earliest(w, n.rd.wake)
	return n.clk.raw(w)
}

// clockStepped handles a backward step of now. Core time counted it as no time, but real
// time may have passed (a process frozen across the step): the fence measured from an
// emission before the step is void, every VIP is withdrawn, and no write emitted before the
// step can set a fence.
func (n *Node) clockStepped(t time.Time, out []Action) []Action {
	n.era++
	n.self.pending = nil
	n.self.fence, n.self.ride, n.self.ownLand, n.self.ownEmit = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	n.self.downReason = ReasonClockJump
	n.markMine()
	return out
}

// newIncarnation names a process start (and each restart of the presence after its
// incarnation ended): unique, so records of an earlier one are never taken as ours.
func (n *Node) newIncarnation(now time.Time) string {
	s := strconv.FormatInt(now.UnixNano(), 36)
	if n.cfg.Rand != nil {
		s += "." + strconv.FormatUint(uint64(clamp01(n.cfg.Rand())*(1<<53)), 36)
	}
	n.self.gen++
	return s + "." + strconv.Itoa(n.self.gen)
}

func (n *Node) newID() uint64 {
	n.lastID++
	return n.lastID
}

// Incarnation is this process's current incarnation.
func (n *Node) Incarnation() string { return n.self.inc }

// Leading reports whether this node announces ip (its address is up, as far as the core knows).
func (n *Node) Leading(ip netip.Addr) bool {
	v := n.vips[ip]
	return v != nil && v.plane.up
}

// Holder is the holder of ip's newest known record ("" if released, absent or unknown).
func (n *Node) Holder(ip netip.Addr) string {
	if v := n.vips[ip]; v != nil && v.known {
		return v.view.Holder
	}
	return ""
}

// Registered reports whether this node's presence incarnation is registered and its fence
// has not passed.
func (n *Node) Registered() bool { return n.self.registered && n.self.live(n.clk.last) }

// Held is the number of VIPs whose address is up here.
func (n *Node) Held() int {
	c := 0
	for _, v := range n.vips {
		if v.plane.up {
			c++
		}
	}
	return c
}

// waiter is a VIP or a peer waiting for a free request slot.
type waiter struct {
	vip  netip.Addr
	peer string
}
