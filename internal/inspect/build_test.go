package inspect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	. "github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func vipLease(ip, holder string, renewed, acquired time.Duration, reason string) *coordv1.Lease {
	l := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: lease.Name(IP(ip)), Annotations: map[string]string{}},
		Spec: coordv1.LeaseSpec{HolderIdentity: &holder,
			RenewTime:   &metav1.MicroTime{Time: now.Add(-renewed)},
			AcquireTime: &metav1.MicroTime{Time: now.Add(-acquired)}}}
	if reason != "" {
		l.Annotations[lease.AnnotationTransition] = reason
	}
	return l
}

func nodeLease(node string, renewed time.Duration) *coordv1.Lease {
	return &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: lease.NodeName(node)},
		Spec: coordv1.LeaseSpec{HolderIdentity: &node, RenewTime: &metav1.MicroTime{Time: now.Add(-renewed)}}}
}

func TestBuild_OneRowPerVIPWithHolderRenewCandidatesAndTransition(t *testing.T) {
	in := Input{
		Services: []*corev1.Service{Svc("web", IPs("198.51.100.7"), Key("k"), Age(0)),
			Svc("dns", IPs("198.51.100.7"), Key("k"), Ports("UDP/53"), Age(1)),
			Svc("db", IPs("2001:db8::7"), Local())},
		Nodes: []*corev1.Node{Node("a"), Node("b"), Node("c", Excluded())},
		Leases: []*coordv1.Lease{vipLease("198.51.100.7", "a", 9*time.Second, 5*time.Minute, "graceful handover from b"),
			nodeLease("a", 2*time.Second), vipLease("198.51.100.99", "b", 3*time.Second, time.Hour, "")},
	}
	rows := Build(in)
	if len(rows) != 3 {
		t.Fatalf("rows = %+v, want 3 (two wanted VIPs and one Lease nobody wants)", rows)
	}
	web := rows[0]
	if web.VIP != IP("198.51.100.7") || strings.Join(web.Services, ",") != "ns/dns,ns/web" || web.Holder != "a" ||
		strings.Join(web.Candidates, ",") != "a,b" || web.RenewFrom != "node" || !web.LastRenew.Equal(now.Add(-2*time.Second)) ||
		web.TransitionReason != "graceful handover from b" {
		t.Errorf("web row = %+v", web)
	}
	orphan := rows[1]
	if orphan.VIP != IP("198.51.100.99") || len(orphan.Services) != 0 || orphan.RenewFrom != "vip" {
		t.Errorf("orphan row = %+v", orphan)
	}
	db := rows[2]
	if db.Holder != "" || len(db.Candidates) != 0 || !strings.Contains(db.NoCandidate, "no node has a ready local endpoint") {
		t.Errorf("db row = %+v", db)
	}
}

func TestPrint_TableWideAndJSON(t *testing.T) {
	rows := Build(Input{Services: []*corev1.Service{Svc("web", IPs("198.51.100.7"))}, Nodes: []*corev1.Node{Node("a")},
		Leases: []*coordv1.Lease{vipLease("198.51.100.7", "a", 9*time.Second, 5*time.Minute, "acquired")}})
	var table, wide, js strings.Builder
	for _, p := range []struct {
		w      *strings.Builder
		format string
	}{{&table, FormatTable}, {&wide, FormatWide}, {&js, FormatJSON}} {
		if err := Print(p.w, rows, p.format, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"VIP", "198.51.100.7", "ns/web", "9s ago", "5m0s ago (acquired)"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if !strings.Contains(wide.String(), "1 (a)") || !strings.Contains(wide.String(), "vipkeeper-198-51-100-7") {
		t.Errorf("wide lacks candidates or lease:\n%s", wide.String())
	}
	var out struct{ VIPs []Row }
	if err := json.Unmarshal([]byte(js.String()), &out); err != nil || len(out.VIPs) != 1 || out.VIPs[0].Holder != "a" {
		t.Errorf("json: %v %s", err, js.String())
	}
	if err := Print(&table, rows, "yaml", now); err == nil {
		t.Error("Print accepted format yaml")
	}
}

func TestBuild_ShowsThePoolAndCountsCandidatesAsTheAgentsDo(t *testing.T) {
	lan := &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: "lan-b"}, Spec: v1alpha1.VIPPoolSpec{Addresses: []string{"203.0.113.0/24"},
		L2: &v1alpha1.L2Advertisement{Interfaces: []string{"eth1"}, NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"lan": "b"}}}}}}
	in := Input{Services: []*corev1.Service{Svc("web", IPs("203.0.113.7"))}, Pools: []*v1alpha1.VIPPool{lan},
		Nodes: []*corev1.Node{Node("a", Label("lan", "b"), Excluded()), Node("b", Label("lan", "b")), Node("c")}}
	if r := Build(in)[0]; strings.Join(r.Candidates, ",") != "b" || r.Pool != "lan-b" {
		t.Errorf("row = %+v, want candidate b only, pool lan-b", r)
	}
	in.IgnoreExcludeLB = true
	rows := Build(in)
	if r := rows[0]; strings.Join(r.Candidates, ",") != "a,b" {
		t.Errorf("with IgnoreExcludeLB: candidates %v, want a,b", r.Candidates)
	}
	var wide strings.Builder
	if err := Print(&wide, rows, FormatWide, now); err != nil || !strings.Contains(wide.String(), "lan-b (eth1)") {
		t.Errorf("wide lacks the pool (%v):\n%s", err, wide.String())
	}
}
