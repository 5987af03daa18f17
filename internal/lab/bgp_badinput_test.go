package lab

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// peerEntries returns each node's Established condition of a BGPPeer: reason and when.
func peerEntries(t *testing.T, dyn dynamic.Interface, peer string) map[string]metav1.Condition {
	t.Helper()
	u, err := dyn.Resource(v1alpha1.BGPPeerResource).Get(t.Context(), peer, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p v1alpha1.BGPPeer
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		t.Fatal(err)
	}
	out := map[string]metav1.Condition{}
	for _, n := range p.Status.Nodes {
		if len(n.Conditions) > 0 {
			out[n.Node] = n.Conditions[0]
		}
	}
	return out
}

func waitPeer(t *testing.T, dyn dynamic.Interface, peer string, ok func(metav1.Condition) bool) {
	t.Helper()
	var got map[string]metav1.Condition
	if !waitUntil(t, bgpLimit, func() bool {
		got = peerEntries(t, dyn, peer)
		for _, c := range got {
			if !ok(c) {
				return false
			}
		}
		return len(got) == 3
	}) {
		t.Fatalf("BGPPeer %s entries: %v", peer, got)
	}
}

func bgpBadInput(t *testing.T, l *Lab) {
	dyn := dynamic.NewForConfigOrDie(l.Env().AdminConfig())
	waitPeer(t, dyn, "router-v4", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue }) // the revived node too
	before := peerEntries(t, dyn, "router-v4")
	apply := func(kind, objs string) {
		t.Helper()
		if err := l.ApplyBGPObjects(t.Context(), dyn, kind, objs); err != nil {
			t.Fatal(err)
		}
	}
	v6 := fmt.Sprintf("router-v6: {address: '%s', asn: %%d, myASN: %d, holdTime: 3s, keepaliveTime: 1s, passwordSecretRef: {name: %%s}}", RouterIPv6, nodeASN)
	apply("BGPPeer", fmt.Sprintf(v6, 64999, "router-password"))
	waitPeer(t, dyn, "router-v6", func(c metav1.Condition) bool { return c.Reason == "PeerRefused" })

	sec := strings.NewReplacer("router-password", "wrong-password")
	if _, err := l.Admin().CoreV1().Secrets(l.Nodes()[0].DaemonArgs().Namespace).Create(t.Context(),
		wrongSecret(l.Nodes()[0].DaemonArgs().Namespace), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply("BGPPeer", sec.Replace(fmt.Sprintf(v6, routerASN, "router-password")))
	waitPeer(t, dyn, "router-v6", func(c metav1.Condition) bool { return c.Status == metav1.ConditionFalse && c.Reason != "PeerRefused" })
	apply("BGPPeer", "nowhere: {address: 198.51.100.250, asn: 64512, myASN: 64600}")
	waitPeer(t, dyn, "nowhere", func(c metav1.Condition) bool { return c.Status == metav1.ConditionFalse })
	apply("BGPAdvertisement", "broken: {pools: [no-such-pool]}")
	if err := l.ApplyBGPObjects(t.Context(), dyn, "BGPPeer", "bad-address: {address: 198.51.100.300, asn: 1, myASN: 2}"); err == nil {
		t.Error("a BGPPeer with address 198.51.100.300 was admitted")
	}
	waitUntil(t, bgpLimit, func() bool {
		u, err := dyn.Resource(v1alpha1.BGPAdvertisementResource).Get(t.Context(), "broken", metav1.GetOptions{})
		return err == nil && strings.Contains(fmt.Sprint(u.Object["status"]), "UnknownPool")
	})

	after := peerEntries(t, dyn, "router-v4")
	for node, c := range before {
		if a := after[node]; a.Status != metav1.ConditionTrue || !a.LastTransitionTime.Equal(&c.LastTransitionTime) {
			t.Errorf("router-v4 session of %s: before %v %v, after %v %v; want established throughout", node, c.Status, c.LastTransitionTime, a.Status, a.LastTransitionTime)
		}
	}
	waitHops(t, l, BGPVIP4(false, 1), nodeNames(l)...)
	apply("BGPPeer", fmt.Sprintf(v6, routerASN, "router-password"))
	waitPeer(t, dyn, "router-v6", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
}

func wrongSecret(ns string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong-password", Namespace: ns},
		StringData: map[string]string{"password": "not-the-router-password"}}
}
