package announce

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// KubeIPVS is the interface kube-proxy's IPVS mode binds every Service IP to, on every node.
const KubeIPVS = "kube-ipvs0"

// arpSysctls are the two settings kube-proxy's strictARP sets in net.ipv4.conf.all.
var arpSysctls = []string{"arp_ignore", "arp_announce"}

// ARPWarnings reports, once at start-up, how ARP would misbehave beside kube-proxy's IPVS
// mode. With kube-ipvs0 present every node holds every LoadBalancer IP, so with
// arp_ignore = 0 every node answers ARP for every VIP on every interface, and with
// arp_announce < 2 a node may use a VIP as the source of its own ARP requests. kube-proxy's
// strictARP sets net.ipv4.conf.all.arp_ignore = 1 and arp_announce = 2 (the kernel applies
// the larger of "all" and the interface's own value). It returns one warning per interface
// that may carry VIPs and per setting; none without kube-ipvs0.
func (a *Announcer) ARPWarnings() ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.k.linkByName(KubeIPVS); errors.Is(err, ErrCannotCarry) {
		return nil, nil // no kube-ipvs0
	} else if err != nil {
		return nil, err
	}
	ifaces, err := a.vipInterfacesLocked()
	if err != nil {
		return nil, err
	}
	vals := map[string]int{}
	err = inNS(a.ns, func() error {
		for _, ifc := range append([]string{"all"}, ifaces...) {
			for _, s := range arpSysctls {
				v, err := readSysctl(ifc, s)
				if err != nil {
					return err
				}
				vals[ifc+"/"+s] = v
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return arpWarnings(ifaces, vals), nil
}

// vipInterfacesLocked lists the interfaces that may carry VIPs: Config.Interface, or every
// other interface that is up and has a global IPv4 network.
func (a *Announcer) vipInterfacesLocked() ([]string, error) {
	if a.cfg.Interface != "" {
		return []string{a.cfg.Interface}, nil
	}
	addrs, err := a.k.list()
	if err != nil {
		return nil, err
	}
	links, err := a.k.links()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.up && l.name != KubeIPVS && hasNetwork4(l.index, addrs) {
			out = append(out, l.name)
		}
	}
	return out, nil
}

func hasNetwork4(index int, addrs []kaddr) bool {
	for _, ka := range addrs {
		ip := ka.prefix.Addr()
		if ka.index == index && ip.Is4() && !isHost(ka.prefix) && ip.IsGlobalUnicast() && !ip.IsLoopback() {
			return true
		}
	}
	return false
}

// arpWarnings is the pure decision: vals holds "<iface or all>/<setting>" -> value.
func arpWarnings(ifaces []string, vals map[string]int) []string {
	var out []string
	for _, ifc := range ifaces {
		ignore := max(vals["all/arp_ignore"], vals[ifc+"/arp_ignore"])
		announce := max(vals["all/arp_announce"], vals[ifc+"/arp_announce"])
		if ignore == 0 {
			out = append(out, fmt.Sprintf("%s exists (kube-proxy in IPVS mode) and arp_ignore is 0 on %s: "+
				"every node answers ARP for every LoadBalancer IP there; set kube-proxy's ipvs.strictARP: true "+
				"(net.ipv4.conf.all.arp_ignore=1)", KubeIPVS, ifc))
		}
		if announce < 2 {
			out = append(out, fmt.Sprintf("%s exists (kube-proxy in IPVS mode) and arp_announce is %d on %s: "+
				"the node may send ARP requests from a LoadBalancer IP; set kube-proxy's ipvs.strictARP: true "+
				"(net.ipv4.conf.all.arp_announce=2)", KubeIPVS, announce, ifc))
		}
	}
	return out
}

// readSysctl reads net.ipv4.conf.<ifc>.<name> of the calling thread's network namespace.
func readSysctl(ifc, name string) (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + ifc + "/" + name)
	if err != nil {
		return 0, fmt.Errorf("read ARP setting: %w", err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("net.ipv4.conf.%s.%s: %w", ifc, name, err)
	}
	return v, nil
}
