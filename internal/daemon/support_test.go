package daemon_test

import (
	"github.com/vipkeeper/vipkeeper/internal/controller"

	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
)

// wantsFor says every VIP is wanted, with node eligible when it is in eligible, ranked by
// rendezvous hash among the eligible nodes as the controller ranks them.
func wantsFor(vips []netip.Addr, eligible ...string) func(node string) map[netip.Addr]daemon.Want {
	return func(node string) map[netip.Addr]daemon.Want {
		out := make(map[netip.Addr]daemon.Want, len(vips))
		for _, ip := range vips {
			w := daemon.Want{Wanted: true}
			if slices.Contains(eligible, node) {
				w.Eligible, w.Ahead = true, controller.Ahead(node, ip, eligible)
				w.Rank = len(w.Ahead)
			}
			out[ip] = w
		}
		return out
	}
}

// rank is the controller's rendezvous rank.
func rank(node string, ip netip.Addr, cands []string) int { return controller.Rank(node, ip, cands) }

// ranked returns the candidates of ip in rank order.
func ranked(ip netip.Addr, cands []string) []string {
	out := slices.Clone(cands)
	slices.SortFunc(out, func(a, b string) int { return rank(a, ip, cands) - rank(b, ip, cands) })
	return out
}

// lockedRand is a seeded source shared by the runners of the daemons (math/rand is not
// safe for concurrent use).
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, 0xd43))}
}

func (l *lockedRand) Float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) child() *lockedRand {
	l.mu.Lock()
	defer l.mu.Unlock()
	return newLockedRand(l.r.Uint64())
}

// logRing keeps the last lines the daemons logged, to print when a test fails.
type logRing struct {
	mu    sync.Mutex
	lines []string
}

const logLines = 150

func (r *logRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.TrimRight(string(p), "\n"))
	if len(r.lines) > 2*logLines {
		r.lines = slices.Clone(r.lines[len(r.lines)-logLines:])
	}
	return len(p), nil
}

func (r *logRing) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines[max(0, len(r.lines)-logLines):], "\n")
}
