package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// Routers a BGP lab can run (Config.BGP).
const (
	RouterFRR  = "frr"
	RouterBIRD = "bird"
)

// The BGP lab's topology: a router namespace on the node LAN (198.51.100.1,
// 2001:db8:1::1) and a second client namespace behind it on its own LAN (198.51.100.240/28,
// 2001:db8:2::/64), which reaches the VIPs only through the router.
var (
	RouterIPv4     = netip.MustParseAddr("198.51.100.1")
	RouterIPv6     = netip.MustParseAddr("2001:db8:1::1")
	bclientIPv4    = netip.MustParseAddr("198.51.100.242")
	bclientIPv6    = netip.MustParseAddr("2001:db8:2::2")
	bclientNet4    = netip.MustParsePrefix("198.51.100.240/28")
	bclientNet6    = netip.MustParsePrefix("2001:db8:2::/64")
	routerClient4  = netip.MustParsePrefix("198.51.100.241/28")
	routerClient6  = netip.MustParsePrefix("2001:db8:2::1/64")
	routerASN      = 64512
	nodeASN        = 64600
	routerPassword = "lab-secret" // the IPv6 sessions' TCP MD5 password
)

func (p plan) routerNS() string  { return p.tag() + "-router" }
func (p plan) bclientNS() string { return p.tag() + "-bclient" }

// router is the FRR or BIRD process(es) of a BGP lab.
type router struct {
	kind  string
	ns    string
	dir   string
	mu    sync.Mutex
	procs []*exec.Cmd
}

// buildRouter creates the router and client namespaces and routes the client LAN from
// every node through the router.
func buildRouter(ctx context.Context, p plan) error {
	r, c := p.routerNS(), p.bclientNS()
	cmds := append(quietNS(r), quietNS(c)...)
	cmds = append(cmds, attach(p.lanNS(), "router", r, dataMAC(99), []netip.Addr{RouterIPv4}, []netip.Addr{RouterIPv6})...)
	cmds = append(cmds,
		ipc("netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
			"net.ipv4.fib_multipath_hash_policy=1", "net.ipv6.fib_multipath_hash_policy=1"), // ECMP by ports too
		ipc("-n", r, "link", "add", "c0", "type", "veth", "peer", "name", "eth0", "netns", c),
		ipc("-n", r, "addr", "add", routerClient4.String(), "dev", "c0"),
		ipc("-n", r, "addr", "add", routerClient6.String(), "dev", "c0", "nodad"),
		ipc("-n", r, "link", "set", "c0", "up"),
		ipc("-n", c, "addr", "add", netip.PrefixFrom(bclientIPv4, 28).String(), "dev", "eth0"),
		ipc("-n", c, "addr", "add", netip.PrefixFrom(bclientIPv6, 64).String(), "dev", "eth0", "nodad"),
		ipc("-n", c, "link", "set", "eth0", "up"),
		ipc("-n", c, "route", "add", "default", "via", routerClient4.Addr().String()),
		ipc("-n", c, "-6", "route", "add", "default", "via", routerClient6.Addr().String()))
	for i := 1; i <= p.nodes; i++ {
		cmds = append(cmds, nodeBGPSteps(p.nodeNS(i))...)
	}
	return steps(ctx, cmds...)
}

// nodeBGPSteps routes the client LAN through the router and turns ARP off for addresses
// that are not on eth0: the VIPs sit on the node's loopback (the stand-in for kube-proxy,
// which accepts traffic for a LoadBalancer IP on every node) and must be reached only by
// the routes the node announces, never by ARP.
func nodeBGPSteps(ns string) [][]string {
	return [][]string{
		ipc("-n", ns, "route", "add", bclientNet4.String(), "via", RouterIPv4.String()),
		ipc("-n", ns, "-6", "route", "add", bclientNet6.String(), "via", RouterIPv6.String()),
		ipc("netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"),
	}
}

// startRouter writes the router's configuration for nodes and starts it in its namespace.
func startRouter(p plan, kind string) (*router, error) {
	dir, err := routerDir(p, kind)
	if err != nil {
		return nil, err
	}
	r := &router{kind: kind, ns: p.routerNS(), dir: dir}
	var nodes []routerNode
	for i := 1; i <= p.nodes; i++ {
		nodes = append(nodes, routerNode{Name: NodeName(i), V4: nodeIPv4(i).String(), V6: nodeIPv6(i).String()})
	}
	data := routerData{ID: RouterIPv4.String(), ASN: routerASN, NodeASN: nodeASN, Nodes: nodes,
		Password: routerPassword, Dir: r.dir}
	switch kind {
	case RouterFRR:
		return r, r.startFRR(data)
	case RouterBIRD:
		return r, r.startBIRD(data)
	}
	return nil, fmt.Errorf("router %q: want %s or %s", kind, RouterFRR, RouterBIRD)
}

// routerDir makes the router's directory: its own temp dir (the lab's is root-only), owned
// by the frr user for FRR, whose daemons drop root; teardown removes it by the lab's tag.
func routerDir(p plan, kind string) (string, error) {
	dir, err := os.MkdirTemp("", p.tag()+"-router-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	if kind != RouterFRR {
		return dir, nil
	}
	u, err := user.Lookup("frr")
	if err != nil {
		return "", fmt.Errorf("frr user (package frr): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return dir, os.Chown(dir, uid, gid)
}

type routerNode struct{ Name, V4, V6 string }

type routerData struct {
	ID            string
	ASN, NodeASN  int
	Nodes         []routerNode
	Password, Dir string
}

// frrConf: eBGP with every node over IPv4 and (with a TCP MD5 password) over IPv6; the
// router only listens, accepts every host route and balances over equal paths.
const frrConf = `frr defaults traditional
hostname lab-router
log file {{.Dir}}/frr.log informational
router bgp {{.ASN}}
 bgp router-id {{.ID}}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 bgp bestpath as-path multipath-relax
 neighbor NODES peer-group
 neighbor NODES remote-as {{.NodeASN}}
 neighbor NODES passive
 neighbor NODES timers 1 3
 neighbor NODES6 peer-group
 neighbor NODES6 remote-as {{.NodeASN}}
 neighbor NODES6 passive
 neighbor NODES6 timers 1 3
 neighbor NODES6 password {{.Password}}
{{- range .Nodes}}
 neighbor {{.V4}} peer-group NODES
 neighbor {{.V6}} peer-group NODES6
{{- end}}
 address-family ipv4 unicast
  neighbor NODES activate
  maximum-paths 16
 exit-address-family
 address-family ipv6 unicast
  neighbor NODES6 activate
  maximum-paths 16
 exit-address-family
`

// birdConf is the same router in BIRD 2: one protocol per node and family, routes
// merged into multipath kernel routes.
const birdConf = `router id {{.ID}};
log "{{.Dir}}/bird.log" all;
protocol device {}
protocol kernel k4 { ipv4 { import none; export all; }; merge paths on limit 16; }
protocol kernel k6 { ipv6 { import none; export all; }; merge paths on limit 16; }
template bgp nodes4 { local as {{.ASN}}; passive on; hold time 3; keepalive time 1; ipv4 { import all; export none; }; }
template bgp nodes6 { local as {{.ASN}}; passive on; hold time 3; keepalive time 1; password "{{.Password}}"; ipv6 { import all; export none; }; }
{{- range $i, $n := .Nodes}}
protocol bgp n{{$i}}v4 from nodes4 { neighbor {{$n.V4}} as {{$.NodeASN}}; }
protocol bgp n{{$i}}v6 from nodes6 { neighbor {{$n.V6}} as {{$.NodeASN}}; }
{{- end}}
`

func render(path, tmpl string, data routerData) error {
	t := template.Must(template.New(filepath.Base(path)).Parse(tmpl))
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (r *router) startFRR(d routerData) error {
	conf := filepath.Join(r.dir, "frr.conf")
	if err := render(conf, frrConf, d); err != nil {
		return err
	}
	common := []string{"--vty_socket", r.dir, "-z", filepath.Join(r.dir, "zserv.api")}
	if err := r.spawn("/usr/lib/frr/zebra", append(common, "-i", filepath.Join(r.dir, "zebra.pid"), "-f", "/dev/null")...); err != nil {
		return err
	}
	if err := r.waitFile(filepath.Join(r.dir, "zserv.api")); err != nil {
		return err
	}
	return r.spawn("/usr/lib/frr/bgpd", append(common, "-i", filepath.Join(r.dir, "bgpd.pid"), "-f", conf)...)
}

func (r *router) startBIRD(d routerData) error {
	conf := filepath.Join(r.dir, "bird.conf")
	if err := render(conf, birdConf, d); err != nil {
		return err
	}
	return r.spawn("bird", "-f", "-c", conf, "-s", r.ctl(), "-P", filepath.Join(r.dir, "bird.pid"))
}

func (r *router) ctl() string { return filepath.Join(r.dir, "bird.ctl") }

// spawn starts one router daemon in the router namespace; it dies with the lab.
func (r *router) spawn(bin string, args ...string) error {
	logf, err := os.OpenFile(filepath.Join(r.dir, filepath.Base(bin)+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", r.ns, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := testenv.StartChild(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	r.mu.Lock()
	r.procs = append(r.procs, cmd)
	r.mu.Unlock()
	return nil
}

func (r *router) waitFile(path string) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	return fmt.Errorf("router: %s did not appear; see %s", path, r.dir)
}

// stop kills the router daemons (teardown also kills whatever is left in the namespace).
func (r *router) stop() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.procs {
		if c.Process != nil {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	r.procs = nil
}

// Show runs the router's own CLI (vtysh -c or birdc) in its namespace and returns the
// output: what an operator would read.
func (r *router) Show(ctx context.Context, command string) (string, error) {
	if r == nil {
		return "", errors.New("not a BGP lab")
	}
	if r.kind == RouterFRR {
		return run(ctx, "ip", "netns", "exec", r.ns, "vtysh", "--vty_socket", r.dir, "-c", command)
	}
	return run(ctx, "ip", append([]string{"netns", "exec", r.ns, "birdc", "-s", r.ctl()}, strings.Fields(command)...)...)
}
