package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// cmdTimeout bounds every ip(8) or sysctl call.
const cmdTimeout = 10 * time.Second

// run runs one command and returns its output; the error carries the output.
func run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// steps runs ip(8) command lines in order and stops at the first error.
func steps(ctx context.Context, lines ...[]string) error {
	for _, l := range lines {
		if _, err := run(ctx, l[0], l[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func ipc(args ...string) []string { return append([]string{"ip"}, args...) }

// quietNS creates a namespace with loopback up and without IPv6 duplicate address
// detection (its addresses are usable at once; the data LAN is ours alone).
func quietNS(ns string) [][]string {
	return [][]string{
		ipc("netns", "add", ns),
		ipc("netns", "exec", ns, "sysctl", "-qw",
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"),
		ipc("-n", ns, "link", "set", "lo", "up"),
	}
}

// dataMAC is the MAC of node i's eth0 (i = 0 is the client): locally administered, "vk".
func dataMAC(i int) string { return fmt.Sprintf("02:76:6b:00:00:%02x", i) }

// buildLAN creates the data LAN: a bridge in its own namespace, and the client on it.
func buildLAN(ctx context.Context, p plan) error {
	lan, client := p.lanNS(), p.clientNS()
	cmds := append(quietNS(lan),
		ipc("-n", lan, "link", "add", "br0", "type", "bridge", "forward_delay", "0", "mcast_snooping", "0"),
		ipc("-n", lan, "link", "set", "br0", "up"))
	cmds = append(cmds, quietNS(client)...)
	v4, v6 := clientSources()
	cmds = append(cmds, attach(lan, "client", client, dataMAC(0), v4, v6)...)
	return steps(ctx, cmds...)
}

// attach plugs a new veth into the LAN bridge: port in lan, eth0 with addresses in ns.
func attach(lan, port, ns, mac string, v4, v6 []netip.Addr) [][]string {
	cmds := [][]string{
		ipc("-n", lan, "link", "add", port, "type", "veth", "peer", "name", "eth0", "address", mac, "netns", ns),
		ipc("-n", lan, "link", "set", port, "master", "br0", "up"),
	}
	for _, a := range v4 {
		cmds = append(cmds, ipc("-n", ns, "addr", "add", prefix4(a), "dev", "eth0"))
	}
	for _, a := range v6 {
		cmds = append(cmds, ipc("-n", ns, "addr", "add", prefix6(a), "dev", "eth0", "nodad"))
	}
	return append(cmds, ipc("-n", ns, "link", "set", "eth0", "up"))
}

// buildNode creates node i's namespace, its eth0 on the data LAN and its mgmt interface on
// the host bridge.
func buildNode(ctx context.Context, p plan, i int) error {
	ns := p.nodeNS(i)
	cmds := quietNS(ns)
	cmds = append(cmds, attach(p.lanNS(), p.lanPort(i), ns, dataMAC(i),
		[]netip.Addr{nodeIPv4(i)}, []netip.Addr{nodeIPv6(i)})...)
	cmds = append(cmds,
		ipc("link", "add", p.hostVeth(i), "type", "veth", "peer", "name", "mgmt", "netns", ns),
		ipc("link", "set", p.hostVeth(i), "master", p.hostBridge(), "up"),
		ipc("-n", ns, "addr", "add", mgmtPrefix(p, p.nodeMgmtIP(i)), "dev", "mgmt"),
		ipc("-n", ns, "link", "set", "mgmt", "up"))
	return steps(ctx, cmds...)
}

// buildHostBridge picks a free management /27 (under the state-dir lock, so two labs
// starting together cannot pick the same) and puts the host bridge with its first address
// on it. It returns the plan with the slot set.
func buildHostBridge(ctx context.Context, p plan, stateDir string) (plan, error) {
	unlock, err := lockState(stateDir)
	if err != nil {
		return p, err
	}
	defer unlock()
	p.slot, err = freeSlot()
	if err != nil {
		return p, err
	}
	br := p.hostBridge()
	return p, steps(ctx,
		ipc("link", "add", br, "type", "bridge", "forward_delay", "0"),
		ipc("addr", "add", mgmtPrefix(p, p.hostMgmtIP()), "dev", br),
		ipc("link", "set", br, "up"))
}

// freeSlot returns the first management /27 that no address of the host namespace is in.
func freeSlot() (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, fmt.Errorf("list host addresses: %w", err)
	}
	for slot := range mgmtSlots {
		pfx := plan{slot: slot}.mgmtNet()
		used := false
		for _, a := range addrs {
			if pf, err := netip.ParsePrefix(a.String()); err == nil && pfx.Contains(pf.Addr()) {
				used = true
			}
		}
		if !used {
			return slot, nil
		}
	}
	return 0, fmt.Errorf("no free /%d in %s on this host: %d labs running?", mgmtBits, mgmtRange, mgmtSlots)
}

// setLink sets a link up or down, in namespace ns ("" for the host).
func setLink(ctx context.Context, ns, link string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	args := []string{"link", "set", link, state}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(ctx, "ip", args...)
	return err
}

// removeByTag deletes every host interface and namespace whose name starts with tag, first
// killing any process left in such a namespace. It is idempotent.
func removeByTag(ctx context.Context, tag string) error {
	var errs []error
	ifs, err := net.Interfaces()
	errs = append(errs, err)
	for _, ifc := range ifs {
		if ifc.Name == tag || strings.HasPrefix(ifc.Name, tag+"-") {
			errs = append(errs, ignoreGone(run(ctx, "ip", "link", "del", ifc.Name)))
		}
	}
	for _, ns := range namespaces(tag + "-") {
		killIn(ctx, ns)
		errs = append(errs, ignoreGone(run(ctx, "ip", "netns", "del", ns)))
	}
	return errors.Join(errs...)
}

// namespaces lists the named network namespaces starting with prefix.
func namespaces(prefix string) []string {
	entries, _ := os.ReadDir("/run/netns")
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// killIn sends SIGKILL to every process whose network namespace is ns (never to us).
func killIn(ctx context.Context, ns string) {
	out, err := run(ctx, "ip", "netns", "pids", ns)
	if err != nil {
		return
	}
	for _, f := range strings.Fields(out) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// ignoreGone drops the error of deleting something that no longer exists.
func ignoreGone(_ string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "Cannot find device") || strings.Contains(msg, "No such file") {
		return nil
	}
	return err
}
