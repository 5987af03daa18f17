package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/internal/announce/announcetest"
	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/lease/leasetest"
)

const fakeNS = "vipkeeper-system"

var (
	_ daemon.LeaseStore  = (*daemontest.Store)(nil)
	_ daemon.LeaseSource = (*daemontest.Source)(nil)
	_ daemon.Dataplane   = (*daemontest.Plane)(nil)
	_ daemon.Notifier    = (*daemontest.Notes)(nil)
)

// timing is one set of election timings: client-go's defaults, and the fast ones.
type timing struct {
	name       string
	ld, rd, rp time.Duration
	fence      bool // the nftables fence's millisecond lifetimes (the ride-through)
}

var timings = []timing{
	{"default", 15 * time.Second, 10 * time.Second, 2 * time.Second, false},
	{"fast", 5 * time.Second, 3 * time.Second, time.Second, false},
}

func (tm timing) spread() time.Duration { return tm.rp / 2 }

func (tm timing) election(node string) election.Config {
	return election.Config{Identity: node, LeaseDuration: tm.ld, RenewDeadline: tm.rd, RetryPeriod: tm.rp}.WithDefaults()
}

// inBubbles runs f once per timing, each in its own synctest bubble.
func inBubbles(t *testing.T, f func(t *testing.T, tm timing)) {
	for _, tm := range timings {
		t.Run(tm.name, func(t *testing.T) { bubble(t, func(t *testing.T) { f(t, tm) }) })
	}
}

// heartbeat counts the samples of every cluster's checker: virtual time moving on.
var heartbeat atomic.Int64

// stallLimit is how long virtual time may stand still in real time before the test binary
// is stopped: a goroutine busy at one instant (a runner spinning on a wake time in the
// past) keeps a bubble's clock still for ever, and that must fail, not hang.
const stallLimit = 30 * time.Second

// bubble runs f in a synctest bubble, watched from outside by a real-time watchdog.
func bubble(t *testing.T, f func(t *testing.T)) {
	done := make(chan struct{})
	defer close(done)
	go watchdog(t.Name(), done)
	synctest.Test(t, f)
}

func watchdog(name string, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, since := heartbeat.Load(), time.Now()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		if b := heartbeat.Load(); b != last {
			last, since = b, time.Now()
		} else if time.Since(since) > stallLimit {
			debug.SetTraceback("all") // show the busy goroutine
			panic(fmt.Sprintf("%s: virtual time stood still for %v of real time: a goroutine is busy at one instant", name, stallLimit))
		}
	}
}

// cluster is N daemons sharing one fake API server (with compare-and-swap), each with its
// own fault-injecting store, partitionable informer and fake kernel.
type cluster struct {
	t     *testing.T
	tm    timing
	ns    string
	api   kubernetes.Interface // for reading Leases as kubectl would
	store func(node string) daemontest.LeaseStore
	watch func() daemontest.LeaseSource
	hist  *daemontest.History
	logs  *logRing
	log   *slog.Logger
	nodes []*node
	vips  []netip.Addr
	rng   *lockedRand // nil: no jitter
	// tune, if set, adjusts each node's election config.
	tune func(*election.Config)
	// peers, if set, gives each daemon incarnation its peer channel (the ride-through);
	// afterStop, if set, runs once every daemon stopped (the peer network drains).
	peers     func(node string) daemon.PeerChannel
	afterStop func()

	failed     atomic.Bool
	violations atomic.Int32
	stopCheck  context.CancelFunc
	checkDone  chan struct{}
	mu         sync.Mutex
	changes    map[netip.Addr][]holding // who held each VIP, per 50 ms sample, when it changed
	trace      []string                 // faults the test injected, printed on failure
}

type holding struct {
	at      time.Time
	holders string
}

// node is one machine: its kernel outlives daemon incarnations (crash and restart).
type node struct {
	name   string
	kernel *announcetest.Fake
	notes  *daemontest.Notes
	wants  map[netip.Addr]daemon.Want
	mode   daemontest.Mode // the store's fault mode when an incarnation starts

	// the running incarnation
	store  *daemontest.Store
	src    *daemontest.Source
	plane  *daemontest.Plane
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan error
}

// newCluster makes a cluster on one fake clientset with compare-and-swap, for a bubble.
func newCluster(t *testing.T, tm timing, vips []netip.Addr, names ...string) *cluster {
	// NewSimpleClientset, not NewClientset: the latter's field-managed tracker builds a
	// REST mapper on every Update, which made these tests 30 times slower. Lease writes use
	// Update, never server-side apply, so field management changes nothing here.
	cs := fake.NewSimpleClientset() //nolint:staticcheck // see above
	leasetest.WithLeaseSemantics(cs)
	store := func(node string) daemontest.LeaseStore {
		s, err := lease.New(lease.Config{Client: cs.CoordinationV1(), Namespace: fakeNS, Identity: node, Duration: tm.ld})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	watch := func() daemontest.LeaseSource { return lease.NewSource(cs, fakeNS) }
	return buildCluster(t, tm, fakeNS, cs, store, watch, vips, names)
}

func buildCluster(t *testing.T, tm timing, namespace string, api kubernetes.Interface,
	store func(string) daemontest.LeaseStore, watch func() daemontest.LeaseSource,
	vips []netip.Addr, names []string) *cluster {
	logs := &logRing{}
	c := &cluster{t: t, tm: tm, ns: namespace, api: api, store: store, watch: watch,
		hist: daemontest.NewHistory(), logs: logs, vips: vips, changes: map[netip.Addr][]holding{},
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, name := range names {
		// Fence mode (the ride-through) holds addresses to the millisecond.
		c.nodes = append(c.nodes, &node{name: name, kernel: announcetest.New(announcetest.Config{Fence: tm.fence}),
			notes: daemontest.NewNotes()})
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopCheck, c.checkDone = cancel, make(chan struct{})
	go c.sample(ctx)
	return c
}

func (c *cluster) node(name string) *node {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

// start runs a fresh daemon incarnation for n with its current wants.
func (c *cluster) start(n *node) {
	c.t.Helper()
	n.store = daemontest.NewStore(n.name, c.store(n.name), c.hist)
	n.store.SetMode(n.mode)
	n.store.OnStorm(func(node string, calls int) {
		c.violate(fmt.Sprintf("%s made %d Lease requests at one instant: a retry that skips its backoff", node, calls))
	})
	n.src = daemontest.NewSource(c.watch())
	n.plane = daemontest.NewPlane(n.name, n.kernel, c.hist, c.onAdd)
	ec := c.tm.election(n.name)
	if c.tune != nil {
		c.tune(&ec)
	}
	if c.rng != nil {
		ec.Rand = c.rng.child().Float64
	}
	dc := daemon.Config{Election: ec, Namespace: c.ns, Leases: n.store, Source: n.src,
		Plane: n.plane, Notify: n.notes, Logger: c.log, StopTimeout: 5 * time.Second}
	if c.peers != nil {
		dc.Peers = c.peers(n.name)
	}
	d, err := daemon.New(dc)
	if err != nil {
		c.t.Fatal(err)
	}
	d.SetWants(n.wants)
	ctx, cancel := context.WithCancel(context.Background())
	n.d, n.cancel, n.done = d, cancel, make(chan error, 1)
	go func() { n.done <- d.Run(ctx) }()
}

func (c *cluster) startAll(wants func(node string) map[netip.Addr]daemon.Want) {
	for _, n := range c.nodes {
		n.wants = wants(n.name)
		c.start(n)
	}
}

// stop stops n's daemon the graceful way (SIGTERM) and returns Run's error.
func (c *cluster) stop(n *node) error {
	if n.d == nil {
		return nil
	}
	n.cancel()
	err := <-n.done
	n.d = nil
	return err
}

// crash kills n's daemon the SIGKILL way: from this instant its calls reach neither the
// API nor the kernel, and whatever the kernel holds stays until its lifetime ends.
func (c *cluster) crash(n *node) {
	if n.d == nil {
		return
	}
	n.plane.Cut()
	n.store.SetMode(daemontest.Dead)
	n.src.Partition(true)
	n.cancel()
	<-n.done
	n.d = nil
}

// restart starts a new incarnation after a crash; its Run first sweeps the VIPs the
// earlier process left in the kernel.
func (c *cluster) restart(n *node) {
	c.t.Helper()
	c.start(n)
}

func (c *cluster) setWants(n *node, w map[netip.Addr]daemon.Want) {
	n.wants = w
	if n.d != nil {
		n.d.SetWants(w)
	}
}

// shutdown stops every daemon and the checker; every goroutine of the bubble ends.
func (c *cluster) shutdown() {
	for _, n := range c.nodes {
		if err := c.stop(n); err != nil {
			c.t.Logf("stop %s: %v", n.name, err)
		}
	}
	if c.afterStop != nil {
		c.afterStop()
	}
	c.stopCheck()
	<-c.checkDone
	if c.t.Failed() && !c.failed.Load() {
		c.t.Logf("faults:\n%s\nhistory:\n%s\nlog:\n%s", c.faults(), c.hist.Tail(80), c.logs.String())
	}
}

// holders lists the nodes whose kernel holds ip now.
func (c *cluster) holders(ip netip.Addr) []string {
	var out []string
	for _, n := range c.nodes {
		if n.kernel.Holds(ip) {
			out = append(out, n.name)
		}
	}
	return out
}

// soleHolder is the one node that holds ip; it fails the test otherwise.
func (c *cluster) soleHolder(ip netip.Addr) *node {
	c.t.Helper()
	hs := c.holders(ip)
	if len(hs) != 1 {
		c.t.Fatalf("%s: holders %v at %s, want exactly one\nhistory:\n%s", ip, hs, clock(), c.hist.Tail(30))
	}
	return c.node(hs[0])
}

// onAdd runs right after a node put ip in its kernel: nobody else may hold it then. Two
// announcers can only start at an Add, so this check is exact.
func (c *cluster) onAdd(name string, ip netip.Addr) {
	for _, other := range c.holders(ip) {
		if other != name {
			c.violate(fmt.Sprintf("%s: %s announced it while %s still held it", ip, name, other))
		}
	}
}

// sample checks every 50 ms of virtual time that no VIP is held twice, and records who
// held each VIP whenever that changed.
func (c *cluster) sample(ctx context.Context) {
	defer close(c.checkDone)
	twice := map[netip.Addr]bool{} // report each overlap once, when it starts
	for {
		heartbeat.Add(1)
		for _, ip := range c.vips {
			hs := c.holders(ip)
			if len(hs) > 1 && !twice[ip] {
				c.violate(fmt.Sprintf("%s: held by %v at once", ip, hs))
			}
			twice[ip] = len(hs) > 1
			c.note(ip, strings.Join(hs, ","))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *cluster) note(ip netip.Addr, hs string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.changes[ip]
	if len(ch) == 0 || ch[len(ch)-1].holders != hs {
		c.changes[ip] = append(ch, holding{at: time.Now(), holders: hs})
	}
}

// tracef records a fault the test injected.
func (c *cluster) tracef(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trace = append(c.trace, clock()+" "+fmt.Sprintf(format, args...))
}

func (c *cluster) faults() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.trace[max(0, len(c.trace)-400):], "\n")
}

// changesSince lists the sampled holder changes of ip after since.
func (c *cluster) changesSince(ip netip.Addr, since time.Time) []holding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []holding
	for _, h := range c.changes[ip] {
		if h.at.After(since) {
			out = append(out, h)
		}
	}
	return out
}

func (c *cluster) violate(msg string) {
	if n := c.violations.Add(1); n > 5 {
		return // the first ones tell the story
	}
	if c.failed.CompareAndSwap(false, true) {
		c.t.Errorf("SAFETY at %s: %s\nfaults:\n%s\nhistory:\n%s\nlog:\n%s", clock(), msg, c.faults(), c.hist.Tail(60), c.logs.String())
		return
	}
	c.t.Errorf("SAFETY at %s: %s", clock(), msg)
}

// clock is the bubble's time since its start, for messages.
func clock() string { return time.Since(bubbleStart).String() }

// bubbleStart is where every synctest bubble's clock starts.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
