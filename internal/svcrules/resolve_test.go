package svcrules

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

func TestResolve_NoCandidateSaysWhy(t *testing.T) {
	vip := "198.51.100.7"
	tests := []struct {
		name  string
		in    Input
		why   string
		cands int
	}{
		{"every node excluded", Input{Services: []*corev1.Service{svcrulestest.Svc("web", svcrulestest.IPs(vip))},
			Nodes: []*corev1.Node{svcrulestest.Node("a", svcrulestest.Excluded()), svcrulestest.Node("b", svcrulestest.Excluded())}}, "every node is excluded", 0},
		{"no Node objects", Input{Services: []*corev1.Service{svcrulestest.Svc("web", svcrulestest.IPs(vip))}}, "no Node objects exist", 0},
		{"a node without its Node object counts itself", Input{Services: []*corev1.Service{svcrulestest.Svc("web", svcrulestest.IPs(vip))}, Self: "a"}, "", 1},
		{"Local without endpoints", Input{Services: []*corev1.Service{svcrulestest.Svc("web", svcrulestest.IPs(vip), svcrulestest.Local())},
			Nodes: []*corev1.Node{svcrulestest.Node("a")}}, "no node has a ready local endpoint", 0},
		{"Local with endpoints only on excluded nodes", Input{Services: []*corev1.Service{svcrulestest.Svc("web", svcrulestest.IPs(vip), svcrulestest.Local())},
			Nodes: []*corev1.Node{svcrulestest.Node("a", svcrulestest.Excluded()), svcrulestest.Node("b")}, EndpointSlices: slices1(svcrulestest.Slice("web", svcrulestest.EP("a", "ready")))},
			"only ready endpoints are on excluded nodes", 0},
		{"Cluster with one node left", Input{Services: []*corev1.Service{svcrulestest.Svc("web", svcrulestest.IPs(vip))},
			Nodes: []*corev1.Node{svcrulestest.Node("a", svcrulestest.Excluded()), svcrulestest.Node("b", svcrulestest.NotReady())}}, "", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vips, problems := Resolve(tc.in)
			v := vips[svcrulestest.IP(vip)]
			if len(v.Candidates) != tc.cands || !strings.Contains(v.NoCandidate, tc.why) || (tc.why == "") != (v.NoCandidate == "") {
				t.Fatalf("candidates %v, no-candidate %q; want %d and %q", v.Candidates, v.NoCandidate, tc.cands, tc.why)
			}
			hasEvent := len(problems) == 1 && problems[0].Reason == ReasonNoCandidate && strings.Contains(problems[0].Message, tc.why)
			if (tc.why != "") != hasEvent {
				t.Errorf("problems = %v", problems)
			}
		})
	}
}

func TestCanShare_NamesTheServiceAndTheRule(t *testing.T) {
	old := svcrulestest.Svc("old", svcrulestest.Key("k"), svcrulestest.Ports("TCP/80"), svcrulestest.Age(0))
	tests := []struct {
		name, reason, why string
		svc               *corev1.Service
	}{
		{"compatible", "", "", svcrulestest.Svc("new", svcrulestest.Key("k"), svcrulestest.Ports("TCP/443"))},
		{"no key", ReasonIPInUse, "Service ns/old uses it and both need the same vipkeeper.io/sharing-key", svcrulestest.Svc("new", svcrulestest.Ports("TCP/443"))},
		{"other key", ReasonIPInUse, `Service ns/old uses it with sharing key "k"`, svcrulestest.Svc("new", svcrulestest.Key("j"), svcrulestest.Ports("TCP/443"))},
		{"other policy", ReasonUnsafeSharing, "Service ns/old uses it with externalTrafficPolicy Cluster", svcrulestest.Svc("new", svcrulestest.Key("k"), svcrulestest.Local(), svcrulestest.Ports("TCP/443"))},
		{"same port, empty protocol is TCP", ReasonUnsafeSharing, "Service ns/old uses it with port TCP/80 too", svcrulestest.Svc("new", svcrulestest.Key("k"), svcrulestest.Ports("/80"))},
		{"same port other protocol", "", "", svcrulestest.Svc("new", svcrulestest.Key("k"), svcrulestest.Ports("UDP/80"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := CanShare([]*corev1.Service{old}, tc.svc)
			if r.Reason != tc.reason || r.Why != tc.why || r.OK() != (tc.reason == "") {
				t.Errorf("CanShare = %+v, want %s %q", r, tc.reason, tc.why)
			}
		})
	}
}

func TestBuilders_SpeakTheVocabulary(t *testing.T) {
	if AnnotationIPs != svcrulestest.AnnotationIPs || AnnotationAllocatedIPs != svcrulestest.AnnotationAllocatedIPs ||
		AnnotationSharingKey != svcrulestest.AnnotationSharingKey || DefaultClass != svcrulestest.DefaultClass {
		t.Fatal("svcrulestest spells the annotations differently")
	}
}

func slices1(s ...*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice { return s }
