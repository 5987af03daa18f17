package announce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// lab is a test network: namespace "node" (where the Announcer works) and
// namespace "client", joined by two veth pairs, eth0 and eth1.
//
//	node eth0 198.51.100.2/24 2001:db8::2/64  <->  client eth0 198.51.100.3/24 2001:db8::3/64
//	node eth1 203.0.113.2/25                  <->  client eth1 203.0.113.3/25
type lab struct {
	t            testing.TB
	node, client string // namespace names, "vktest-<random>-node"
	nodeMAC      string // node eth0
}

// TestMain deletes namespaces left by test binaries that died before their
// cleanups ran (a -timeout panic): names carry the creator's PID, and only
// those whose process is gone are touched, so parallel packages are safe.
func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		sweepDeadLabs()
	}
	os.Exit(m.Run())
}

func sweepDeadLabs() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "vktest-%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to build the test network")
	}
}

func newLab(t testing.TB) *lab {
	t.Helper()
	needRoot(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := fmt.Sprintf("vktest-%d-%s", os.Getpid(), hex.EncodeToString(b))
	l := &lab{t: t, node: id + "-node", client: id + "-client"}
	for _, ns := range []string{l.node, l.client} {
		l.ip("netns", "add", ns)
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("delete namespace %s: %v: %s", ns, err, out)
			}
		})
		l.run("ip", "netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
		l.ip("-n", ns, "link", "set", "lo", "up")
	}
	for _, ifc := range []string{"eth0", "eth1"} {
		l.ip("-n", l.node, "link", "add", ifc, "type", "veth", "peer", "name", ifc, "netns", l.client)
	}
	l.addrs(l.node, "eth0", "198.51.100.2/24", "2001:db8::2/64")
	l.addrs(l.node, "eth1", "203.0.113.2/25")
	l.addrs(l.client, "eth0", "198.51.100.3/24", "2001:db8::3/64")
	l.addrs(l.client, "eth1", "203.0.113.3/25")
	for _, ns := range []string{l.node, l.client} {
		l.ip("-n", ns, "link", "set", "eth0", "up")
		l.ip("-n", ns, "link", "set", "eth1", "up")
	}
	l.nodeMAC = l.mac(l.node, "eth0")
	l.waitCarrier(l.client, "eth0")
	return l
}

func (l *lab) ip(args ...string) { l.t.Helper(); l.run("ip", args...) }

func (l *lab) run(name string, args ...string) string {
	l.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (l *lab) addrs(ns, ifc string, prefixes ...string) {
	l.t.Helper()
	for _, p := range prefixes {
		l.ip("-n", ns, "addr", "add", p, "dev", ifc)
	}
}

func (l *lab) mac(ns, ifc string) string {
	l.t.Helper()
	var links []struct {
		Address string   `json:"address"`
		Flags   []string `json:"flags"`
	}
	if err := json.Unmarshal([]byte(l.run("ip", "-j", "-n", ns, "link", "show", ifc)), &links); err != nil || len(links) != 1 {
		l.t.Fatalf("link %s in %s: %v", ifc, ns, err)
	}
	return links[0].Address
}

// waitCarrier waits (at most 5 s) until ifc in ns has carrier.
func (l *lab) waitCarrier(ns, ifc string) {
	l.t.Helper()
	for range 100 {
		if strings.Contains(l.run("ip", "-n", ns, "link", "show", ifc), "LOWER_UP") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.t.Fatalf("%s in %s has no carrier after 5s", ifc, ns)
}

// kaddrInfo is one address as `ip -j addr` prints it.
type kaddrInfo struct {
	Dev   string
	CIDR  string
	Label string
	Valid int64 // seconds; -1 for forever
}

// nodeAddrs lists the node's global addresses, independent of the code
// under test.
func (l *lab) nodeAddrs() []kaddrInfo {
	l.t.Helper()
	var links []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Scope     string `json:"scope"`
			Label     string `json:"label"`
			Valid     any    `json:"valid_life_time"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(l.run("ip", "-j", "-n", l.node, "addr", "show")), &links); err != nil {
		l.t.Fatalf("parse ip addr: %v", err)
	}
	var out []kaddrInfo
	for _, ln := range links {
		for _, a := range ln.AddrInfo {
			if a.Scope != "global" {
				continue
			}
			valid := int64(-1)
			if f, ok := a.Valid.(float64); ok && f < float64(forever) {
				valid = int64(f)
			}
			cidr := netip.PrefixFrom(netip.MustParseAddr(a.Local), a.PrefixLen).String()
			out = append(out, kaddrInfo{Dev: ln.IfName, CIDR: cidr, Label: a.Label, Valid: valid})
		}
	}
	slices.SortFunc(out, func(a, b kaddrInfo) int {
		return netip.MustParsePrefix(a.CIDR).Addr().Compare(netip.MustParsePrefix(b.CIDR).Addr())
	})
	return out
}

// nodeHas returns the device holding cidr on the node, or "".
func (l *lab) nodeHas(cidr string) string {
	l.t.Helper()
	for _, a := range l.nodeAddrs() {
		if a.CIDR == cidr {
			return a.Dev
		}
	}
	return ""
}

// with returns a copy of l that reports to t (a subtest).
func (l *lab) with(t testing.TB) *lab {
	c := *l
	c.t = t
	return &c
}

// announcer returns an Announcer working in the node namespace and closes
// it when the test ends.
func (l *lab) announcer(cfg Config) *Announcer {
	l.t.Helper()
	cfg.NetNS = "/run/netns/" + l.node
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(l.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := New(cfg)
	if err != nil {
		l.t.Fatalf("New: %v", err)
	}
	l.t.Cleanup(func() {
		if err := a.Close(); err != nil {
			l.t.Errorf("Close: %v", err)
		}
	})
	return a
}

// run starts a.Run until the test ends.
func runAnnouncer(t *testing.T, a *Announcer) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFor polls cond every 50 ms for at most limit.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func hold(ip string, d time.Duration) Address {
	return Address{IP: addr(ip), Until: time.Now().Add(d)}
}

func indexOf(addrs []kaddrInfo, cidr string) int {
	return slices.IndexFunc(addrs, func(a kaddrInfo) bool { return a.CIDR == cidr })
}

func cidrs(addrs []kaddrInfo) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.CIDR)
	}
	return out
}

func countGoroutines() int { return runtime.NumGoroutine() }

// netlinkHandleIn opens a netlink handle in the named namespace.
func netlinkHandleIn(name string) (*netlink.Handle, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

func hasIP(addrs []netlink.Addr, ip netip.Addr) bool {
	return slices.ContainsFunc(addrs, func(a netlink.Addr) bool {
		got, ok := netip.AddrFromSlice(a.IP)
		return ok && got.Unmap() == ip
	})
}
