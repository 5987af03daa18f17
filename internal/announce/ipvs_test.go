package announce

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// withKubeIPVS adds kube-ipvs0 to the node as kube-proxy's IPVS mode has it: a down
// interface holding every Service IP (a down bridge stands in for the dummy).
func (l *lab) withKubeIPVS(prefixes ...string) {
	l.t.Helper()
	l.ip("-n", l.node, "link", "add", KubeIPVS, "type", "bridge")
	for _, p := range prefixes {
		args := []string{"-n", l.node, "addr", "add", p, "dev", KubeIPVS}
		if strings.Contains(p, ":") {
			args = append(args, "nodad")
		}
		l.ip(args...)
	}
}

// localRoutes lists the node's local-table routes to dst ("dev" names), independent of the
// code under test.
func (l *lab) localRoutes(dst string) []string {
	l.t.Helper()
	family := "-4"
	if strings.Contains(dst, ":") {
		family = "-6"
	}
	var routes []struct {
		Dst string `json:"dst"`
		Dev string `json:"dev"`
	}
	out := l.run("ip", "-j", family, "-n", l.node, "route", "show", "table", "local", dst)
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		l.t.Fatalf("parse routes %q: %v", out, err)
	}
	var devs []string
	for _, r := range routes {
		devs = append(devs, r.Dev)
	}
	slices.Sort(devs)
	return devs
}

// Issue 13: kube-proxy in IPVS mode binds every LoadBalancer IP to kube-ipvs0 on every node.
// That copy must not stop the holder from announcing the VIP on its own interface, and
// withdrawing ours must leave kube-proxy's address and its local route alone.
func TestAdd_AForeignCopyOnKubeIPVS0DoesNotBlockAndSurvivesRemove(t *testing.T) {
	for _, tc := range []struct{ vip, host string }{
		{vip: "198.51.100.7", host: "198.51.100.7/32"},
		{vip: "2001:db8::7", host: "2001:db8::7/128"},
	} {
		t.Run(tc.vip, func(t *testing.T) {
			l := newLab(t)
			l.withKubeIPVS(tc.host)
			a := l.announcer(Config{})
			if err := a.CanCarry(addr(tc.vip)); err != nil {
				t.Errorf("CanCarry with a copy on %s = %v, want nil", KubeIPVS, err)
			}
			if err := a.Add(t.Context(), hold(tc.vip, time.Minute)); err != nil {
				t.Fatalf("Add with a copy on %s: %v", KubeIPVS, err)
			}
			if diff := cmp.Diff([]string{"eth0", KubeIPVS}, l.localRoutes(tc.vip)); diff != "" {
				t.Errorf("local routes while held (-want +got):\n%s", diff)
			}
			if err := a.Remove(t.Context(), addr(tc.vip)); err != nil {
				t.Errorf("Remove: %v, want nil (the copy on %s is not ours and not where we put it)", err, KubeIPVS)
			}
			var devs []string
			for _, ka := range l.nodeAddrs() {
				if ka.CIDR == tc.host {
					devs = append(devs, ka.Dev)
				}
			}
			if diff := cmp.Diff([]string{KubeIPVS}, devs); diff != "" {
				t.Errorf("%s after Remove (-want +got):\n%s", tc.host, diff)
			}
			if diff := cmp.Diff([]string{KubeIPVS}, l.localRoutes(tc.vip)); diff != "" {
				t.Errorf("local routes after Remove (-want +got):\n%s", diff)
			}
		})
	}
}

func TestARPWarnings_OnlyWithKubeIPVS0AndNonStrictARP(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{Interface: "eth0"})
	if w, err := a.ARPWarnings(); err != nil || len(w) != 0 {
		t.Fatalf("ARPWarnings without %s = %q, %v; want none", KubeIPVS, w, err)
	}
	l.withKubeIPVS("198.51.100.7/32")
	w, err := a.ARPWarnings()
	if err != nil || len(w) != 2 || !strings.Contains(w[0], "arp_ignore is 0 on eth0") ||
		!strings.Contains(w[1], "arp_announce is 0 on eth0") {
		t.Fatalf("ARPWarnings with defaults = %q, %v; want arp_ignore and arp_announce on eth0", w, err)
	}
	l.run("ip", "netns", "exec", l.node, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
	if w, err := a.ARPWarnings(); err != nil || len(w) != 0 {
		t.Errorf("ARPWarnings with kube-proxy's strictARP = %q, %v; want none", w, err)
	}
}

func TestArpWarnings_TakeTheLargerOfAllAndTheInterface(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]int
		want []string
	}{
		{name: "defaults", vals: map[string]int{}, want: []string{"arp_ignore is 0 on eth0", "arp_announce is 0 on eth0"}},
		{name: "strictARP in all", vals: map[string]int{"all/arp_ignore": 1, "all/arp_announce": 2}},
		{name: "strict on the interface only", vals: map[string]int{"eth0/arp_ignore": 1, "eth0/arp_announce": 2}},
		{name: "announce only", vals: map[string]int{"all/arp_announce": 2}, want: []string{"arp_ignore is 0 on eth0"}},
		{name: "ignore only", vals: map[string]int{"all/arp_ignore": 1, "eth0/arp_announce": 1},
			want: []string{"arp_announce is 1 on eth0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := arpWarnings([]string{"eth0"}, tc.vals)
			if len(got) != len(tc.want) {
				t.Fatalf("arpWarnings = %q, want %d warnings %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}
