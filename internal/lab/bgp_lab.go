package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// BGPTiming fits single mode with the lab routers' 3 s hold time: LD - RD - 1 s = 3 s
// (docs/bgp.md); the fast preset does not (5 s - 3 s - 1 s < 3 s).
var BGPTiming = Timing{Name: "bgp", LeaseDuration: 7 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second}

// The BGP lab's pools: VIPs of the first are announced in ECMP mode, of the second in
// single mode. Every node has all of them on its loopback (the kube-proxy stand-in).
var (
	ECMPPool   = []string{"198.51.100.224/29", "2001:db8:3::/120"}
	SinglePool = []string{"198.51.100.232/29", "2001:db8:3::100/120"}
	// BGPVIP4 and BGPVIP6 return the n-th VIP (1..6) of the ECMP or single pool.
	BGPVIP4 = func(single bool, n int) netip.Addr {
		return netip.AddrFrom4([4]byte{198, 51, 100, byte(224 + 8*b2i(single) + n)})
	}
	BGPVIP6 = func(single bool, n int) netip.Addr {
		return netip.MustParseAddr(fmt.Sprintf("2001:db8:3::%x", 0x100*b2i(single)+n))
	}
)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// withBGP adds --bgp to the default daemon command of a BGP lab.
func (c Config) withBGP() Config {
	if c.BGP != "" && c.DaemonCmd == DefaultDaemonCmd {
		c.DaemonCmd += " --bgp"
	}
	return c
}

// startBGP builds the router and client namespaces, starts the router and, on every
// node, the kube-proxy stand-in: the BGP VIPs on the loopback and a TCP server on port
// 80 that answers with the node's name.
func (l *Lab) startBGP(ctx context.Context) error {
	if l.cfg.BGP == "" {
		return nil
	}
	if err := buildRouter(ctx, l.plan); err != nil {
		return err
	}
	var err error
	if l.router, err = startRouter(l.plan, l.cfg.BGP); err != nil {
		return err
	}
	for _, n := range l.nodes {
		if err := l.standIn(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) standIn(ctx context.Context, n *Node) error {
	var cmds [][]string
	for _, single := range []bool{false, true} {
		for k := 1; k <= 6; k++ {
			cmds = append(cmds, ipc("-n", n.ns, "addr", "add", BGPVIP4(single, k).String()+"/32", "dev", "lo"),
				ipc("-n", n.ns, "addr", "add", BGPVIP6(single, k).String()+"/128", "dev", "lo"))
		}
	}
	if err := steps(ctx, cmds...); err != nil {
		return err
	}
	var ln net.Listener
	if err := inNS(n.ns, func() (err error) { ln, err = net.Listen("tcp", ":80"); return err }); err != nil {
		return fmt.Errorf("stand-in server on %s: %w", n.name, err)
	}
	l.bgpStop = append(l.bgpStop, func() { _ = ln.Close() }) // ends serveName
	go serveName(ln, n.name)
	return nil
}

// serveName answers every connection with name until ln is closed.
func serveName(ln net.Listener, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.WriteString(c, name+"\n")
		_ = c.Close()
	}
}

// applyBGP creates the lab's BGP configuration: the IPv6 sessions' password Secret, the
// two pools, a peer per router address and an advertisement per pool.
func (l *Lab) applyBGP(ctx context.Context, namespace string) error {
	if l.cfg.BGP == "" {
		return nil
	}
	if err := l.grantBGPSecrets(ctx, namespace); err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "router-password", Namespace: namespace},
		StringData: map[string]string{"password": routerPassword}}
	if _, err := l.admin.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	dyn, err := dynamic.NewForConfig(l.env.AdminConfig())
	if err != nil {
		return err
	}
	pools := fmt.Sprintf("ecmp: {addresses: [%s]}\nsingle: {addresses: [%s]}", strings.Join(ECMPPool, ", "), strings.Join(SinglePool, ", "))
	peers := fmt.Sprintf(`router-v4: {address: %s, asn: %d, myASN: %d, holdTime: 3s, keepaliveTime: 1s}
router-v6: {address: '%s', asn: %d, myASN: %d, holdTime: 3s, keepaliveTime: 1s, passwordSecretRef: {name: router-password}}`,
		RouterIPv4, routerASN, nodeASN, RouterIPv6, routerASN, nodeASN)
	ads := "ecmp: {pools: [ecmp], mode: ecmp, communities: ['64600:100']}\nsingle: {pools: [single], mode: single}"
	for _, o := range []struct{ kind, objs string }{{"VIPPool", pools}, {"BGPPeer", peers}, {"BGPAdvertisement", ads}} {
		if err := l.ApplyBGPObjects(ctx, dyn, o.kind, o.objs); err != nil {
			return err
		}
	}
	return nil
}

// ApplyBGPObjects creates or replaces objects of kind given as YAML "name: spec" lines.
func (l *Lab) ApplyBGPObjects(ctx context.Context, dyn dynamic.Interface, kind, objs string) error {
	var specs map[string]map[string]any
	if err := yaml.Unmarshal([]byte(objs), &specs); err != nil {
		return fmt.Errorf("%s objects: %w", kind, err)
	}
	res := map[string]string{"VIPPool": "vippools", "BGPPeer": "bgppeers", "BGPAdvertisement": "bgpadvertisements"}[kind]
	ri := dyn.Resource(v1alpha1.GroupVersion.WithResource(res))
	for name, spec := range specs {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": v1alpha1.GroupVersion.String(),
			"kind": kind, "metadata": map[string]any{"name": name}, "spec": spec}}
		_, err := ri.Apply(ctx, name, u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("apply %s %s: %w", kind, name, err)
		}
	}
	return nil
}

// RouterShow runs vtysh -c COMMAND (FRR) or birdc COMMAND (BIRD) on the router.
func (l *Lab) RouterShow(ctx context.Context, command string) (string, error) {
	return l.router.Show(ctx, command)
}

// RouterKind is Config.BGP: "frr", "bird", or "" for an L2 lab.
func (l *Lab) RouterKind() string { return l.cfg.BGP }

// NextHops returns the nodes the router's forwarding table (the kernel's, where FRR's
// zebra and BIRD's kernel protocol install their routes) sends vip to, sorted; one name
// per next hop, so a node listed twice would show as two.
func (l *Lab) NextHops(vip netip.Addr) ([]string, error) {
	h, err := netns.GetFromName(l.plan.routerNS())
	if err != nil {
		return nil, err
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	dst := &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(vip.BitLen(), vip.BitLen())}
	routes, err := nh.RouteListFiltered(familyOf(vip), &netlink.Route{Dst: dst}, netlink.RT_FILTER_DST)
	if err != nil {
		return nil, fmt.Errorf("router routes for %s: %w", vip, err)
	}
	var out []string
	for _, r := range routes {
		for _, gw := range gateways(r) {
			out = append(out, l.nodeByIP(gw))
		}
	}
	slices.Sort(out)
	return out, nil
}

func familyOf(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func gateways(r netlink.Route) []net.IP {
	if len(r.MultiPath) == 0 {
		return []net.IP{r.Gw}
	}
	out := make([]net.IP, 0, len(r.MultiPath))
	for _, p := range r.MultiPath {
		out = append(out, p.Gw)
	}
	return out
}

func (l *Lab) nodeByIP(ip net.IP) string {
	a, _ := netip.AddrFromSlice(ip)
	for _, n := range l.nodes {
		if n.IPv4() == a.Unmap() || n.IPv6() == a {
			return n.name
		}
	}
	return a.String()
}

// DialVIP connects from the client behind the router to vip port 80 and returns the name
// of the node that answered.
func (l *Lab) DialVIP(ctx context.Context, vip netip.Addr) (string, error) {
	var c net.Conn
	err := inNS(l.plan.bclientNS(), func() (err error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err = d.DialContext(ctx, "tcp", net.JoinHostPort(vip.String(), "80"))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("connect to %s through the router: %w", vip, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// stopBGP ends the stand-in servers and the router.
func (l *Lab) stopBGP() {
	for _, c := range l.bgpStop {
		c()
	}
	l.router.stop()
}

// bgpSamples are the Services `vipkeeper-lab --bgp` adds: dual-stack Cluster ones in ECMP
// and in single mode, and a Local one in ECMP mode with one endpoint on the first node.
func (l *Lab) bgpSamples() []ServiceSpec {
	if l.cfg.BGP == "" {
		return nil
	}
	all := make([]Endpoint, len(l.nodes))
	for i, n := range l.nodes {
		all[i] = Endpoint{Node: n.name}
	}
	return []ServiceSpec{
		{Name: "bgp-ecmp", VIPs: []netip.Addr{BGPVIP4(false, 1), BGPVIP6(false, 1)}, Endpoints: all},
		{Name: "bgp-local", VIPs: []netip.Addr{BGPVIP4(false, 2)}, Local: true, Endpoints: all[:1]},
		{Name: "bgp-single", VIPs: []netip.Addr{BGPVIP4(true, 1), BGPVIP6(true, 1)}, Endpoints: all},
	}
}

// renderRoutes writes, for a BGP lab, the router's next hops of each sample BGP VIP: all
// of them (last nil, the live table) or the changed ones, timestamped (last non-nil).
func (l *Lab) renderRoutes(w io.Writer, last map[string]string) {
	if l.cfg.BGP == "" {
		return
	}
	if last == nil {
		fmt.Fprintf(w, "\nrouter (%s) next hops, seen from the client LAN:\n", l.cfg.BGP)
	}
	for _, s := range l.bgpSamples() {
		for _, vip := range s.VIPs {
			hops, err := l.NextHops(vip)
			line := fmt.Sprintf("%-20s %-10s %v", vip, s.Name, hops)
			if err != nil {
				line = fmt.Sprintf("%-20s %-10s %v", vip, s.Name, err)
			}
			switch {
			case last == nil:
				fmt.Fprintln(w, "  "+line)
			case last["bgp "+vip.String()] != line:
				last["bgp "+vip.String()] = line
				fmt.Fprintf(w, "%s route %s\n", time.Now().Format("15:04:05.000"), line)
			}
		}
	}
}

// grantBGPSecrets lets the agents read the password Secrets of their namespace, as the chart
// does with bgp.enabled (deploy/ is rendered without it).
func (l *Lab) grantBGPSecrets(ctx context.Context, namespace string) error {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "vipkeeper-agent-bgp-secrets", Namespace: namespace},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}}}
	bind := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name, Namespace: namespace},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "vipkeeper-agent", Namespace: namespace}}}
	if _, err := l.admin.RbacV1().Roles(namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("grant bgp secrets: %w", err)
	}
	if _, err := l.admin.RbacV1().RoleBindings(namespace).Create(ctx, bind, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("grant bgp secrets: %w", err)
	}
	return nil
}
