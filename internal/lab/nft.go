package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Peer-channel faults are nftables tables of the inet family inside a node's namespace,
// each named nftPrefix + what it cuts; they drop UDP to and from peerPort only, so ARP, NDP
// and the VIPs' traffic flow on. The daemon's own fence owns tables of the arp and ip6
// families (internal/announce) and never touches these.
const nftPrefix = "vkl_"

// nftCut is one fault table: the match expressions whose packets are dropped on the way in
// (hook input) and out (hook output).
type nftCut struct {
	Table   string
	In, Out []string
}

// peerCut drops every peer datagram on the node's data interface (eth0).
func peerCut() nftCut {
	var c nftCut
	c.Table = nftPrefix + "peers"
	for _, port := range []string{"dport", "sport"} {
		c.In = append(c.In, fmt.Sprintf(`iifname "eth0" udp %s %d`, port, peerPort))
		c.Out = append(c.Out, fmt.Sprintf(`oifname "eth0" udp %s %d`, port, peerPort))
	}
	return c
}

// peerCutTo drops the peer datagrams between the node and node `other` (its data IPv4 and
// IPv6 addresses) only.
func peerCutTo(other int) nftCut {
	c := nftCut{Table: fmt.Sprintf("%speer_%d", nftPrefix, other)}
	for _, a := range []struct{ fam, addr string }{{"ip", nodeIPv4(other).String()}, {"ip6", nodeIPv6(other).String()}} {
		for _, port := range []string{"dport", "sport"} {
			c.In = append(c.In, fmt.Sprintf("%s saddr %s udp %s %d", a.fam, a.addr, port, peerPort))
			c.Out = append(c.Out, fmt.Sprintf("%s daddr %s udp %s %d", a.fam, a.addr, port, peerPort))
		}
	}
	return c
}

// script is the nft(8) input that replaces the table in one transaction (declaring it
// first makes the delete succeed when it does not exist yet, so applying is idempotent).
func (c nftCut) script() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", c.Table, c.Table, c.Table)
	chain := func(name, hook string, rules []string) {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority -10; policy accept;\n", name, hook)
		for _, r := range rules {
			fmt.Fprintf(&b, "\t\t%s counter drop\n", r)
		}
		b.WriteString("\t}\n")
	}
	chain("input", "input", c.In)
	chain("output", "output", c.Out)
	b.WriteString("}\n")
	return b.String()
}

// nftApply runs nft -f - with script in namespace ns.
func nftApply(ctx context.Context, ns, script string) error {
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f in %s: %w: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nftDelete removes table from namespace ns; a table that does not exist is no error.
func nftDelete(ctx context.Context, ns, table string) error {
	_, err := run(ctx, "ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table)
	return ignoreGone("", err)
}

// nftClear removes every fault table of the lab from namespace ns. Without nft(8) there
// can be none.
func nftClear(ctx context.Context, ns string) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil
	}
	out, err := run(ctx, "ip", "netns", "exec", ns, "nft", "list", "tables")
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range labTables(out) {
		errs = append(errs, nftDelete(ctx, ns, t))
	}
	return errors.Join(errs...)
}

// labTables picks the lab's fault tables from `nft list tables` output
// ("table inet vkl_peers" lines).
func labTables(listing string) []string {
	var out []string
	for line := range strings.Lines(listing) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "table" && f[1] == "inet" && strings.HasPrefix(f[2], nftPrefix) {
			out = append(out, f[2])
		}
	}
	return out
}

// CutPeers drops every peer datagram to and from the node on its data link (the VIPs'
// ARP and NDP still flow); RestorePeers undoes it.
func (n *Node) CutPeers(ctx context.Context) error {
	n.logger("peer link", "node", n.name, "up", false)
	return nftApply(ctx, n.ns, peerCut().script())
}

// RestorePeers removes CutPeers' rules.
func (n *Node) RestorePeers(ctx context.Context) error {
	n.logger("peer link", "node", n.name, "up", true)
	return nftDelete(ctx, n.ns, peerCut().Table)
}

// CutPeerTo drops the peer datagrams between the node and other only.
func (n *Node) CutPeerTo(ctx context.Context, other *Node) error {
	n.logger("peer link", "node", n.name, "to", other.name, "up", false)
	return nftApply(ctx, n.ns, peerCutTo(other.index).script())
}

// RestorePeerTo removes CutPeerTo's rules for other.
func (n *Node) RestorePeerTo(ctx context.Context, other *Node) error {
	n.logger("peer link", "node", n.name, "to", other.name, "up", true)
	return nftDelete(ctx, n.ns, peerCutTo(other.index).Table)
}

// clearPeerFaults removes every peer-channel fault of the node (repair).
func (n *Node) clearPeerFaults(ctx context.Context) error { return nftClear(ctx, n.ns) }
