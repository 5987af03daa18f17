package lab

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPeerCut_DropsOnlyPeerDatagramsOnTheDataLinkBothWays(t *testing.T) {
	want := `table inet vkl_peers
delete table inet vkl_peers
table inet vkl_peers {
	chain input {
		type filter hook input priority -10; policy accept;
		iifname "eth0" udp dport 9474 counter drop
		iifname "eth0" udp sport 9474 counter drop
	}
	chain output {
		type filter hook output priority -10; policy accept;
		oifname "eth0" udp dport 9474 counter drop
		oifname "eth0" udp sport 9474 counter drop
	}
}
`
	if diff := cmp.Diff(want, peerCut().script()); diff != "" {
		t.Errorf("script (-want +got):\n%s", diff)
	}
}

func TestPeerCutTo_MatchesTheOtherNodesDataAddressesOnly(t *testing.T) {
	c := peerCutTo(4)
	want := nftCut{Table: "vkl_peer_4",
		In: []string{"ip saddr 198.51.100.14 udp dport 9474", "ip saddr 198.51.100.14 udp sport 9474",
			"ip6 saddr 2001:db8:1::14 udp dport 9474", "ip6 saddr 2001:db8:1::14 udp sport 9474"},
		Out: []string{"ip daddr 198.51.100.14 udp dport 9474", "ip daddr 198.51.100.14 udp sport 9474",
			"ip6 daddr 2001:db8:1::14 udp dport 9474", "ip6 daddr 2001:db8:1::14 udp sport 9474"}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("peerCutTo(4) (-want +got):\n%s", diff)
	}
	if peerCutTo(4).Table == peerCutTo(5).Table || peerCutTo(4).Table == peerCut().Table {
		t.Errorf("tables collide: %s, %s, %s", peerCutTo(4).Table, peerCutTo(5).Table, peerCut().Table)
	}
}

func TestLabTables_PicksTheLabsInetTablesNotTheDaemonsFence(t *testing.T) {
	listing := "table arp vipkeeper\ntable ip6 vipkeeper\ntable inet vkl_peers\ntable inet vkl_peer_4\ntable inet filter\ntable ip vkl_other\n"
	want := []string{"vkl_peers", "vkl_peer_4"}
	if diff := cmp.Diff(want, labTables(listing)); diff != "" {
		t.Errorf("labTables (-want +got):\n%s", diff)
	}
	if got := labTables(""); len(got) != 0 {
		t.Errorf("labTables(\"\") = %q, want none", got)
	}
}

func TestCounterBy_SumsOneMetricByLabel(t *testing.T) {
	text := `# HELP vipkeeper_peer_dropped_total Peer datagrams dropped, by reason.
# TYPE vipkeeper_peer_dropped_total counter
vipkeeper_peer_dropped_total{reason="bad_mac"} 7
vipkeeper_peer_dropped_total{reason="unknown_key"} 2
vipkeeper_peer_dropped_total{reason="replay"} 1
vipkeeper_peer_received_total{kind="query"} 3
`
	got, found := counterBy(text, metricPeerDropped, "reason")
	if !found || keyDrops(got) != 9 || got["replay"] != 1 {
		t.Errorf("counterBy = %v, %v; want bad_mac+unknown_key 9, replay 1", got, found)
	}
	if _, found := counterBy("up 1\n", metricPeerDropped, "reason"); found {
		t.Error("counterBy found a metric the text does not have")
	}
}

func TestWrongKeyChecks_PassOnlyWhenNothingIsAcceptedAndEveryPeerDrops(t *testing.T) {
	good := []peerCounters{{node: "node-1", keyDrops: 4, found: true}, {node: "node-3", keyDrops: 2, found: true}}
	tests := []struct {
		name   string
		wrong  peerCounters
		others []peerCounters
		want   []bool
	}{
		{name: "rejected both ways", wrong: peerCounters{node: "node-2", keyDrops: 5, found: true}, others: good, want: []bool{true, true}},
		{name: "it accepted a message", wrong: peerCounters{node: "node-2", keyDrops: 5, accepted: 1, found: true}, others: good, want: []bool{false, true}},
		{name: "a peer dropped nothing", wrong: peerCounters{node: "node-2", keyDrops: 5, found: true},
			others: []peerCounters{good[0], {node: "node-3", found: true}}, want: []bool{true, false}},
		{name: "no peer metrics", wrong: peerCounters{node: "node-2"}, others: good, want: []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []bool
			for _, c := range wrongKeyChecks(tc.wrong, tc.others) {
				got = append(got, c.Pass)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("verdicts (-want +got):\n%s", diff)
			}
		})
	}
}
