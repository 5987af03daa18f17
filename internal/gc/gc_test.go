package gc_test

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/gc"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

var shared = testenv.NewShared(testenv.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// Against the real kube-apiserver: a never-held VIP Lease and a held one whose holder's
// incarnation was revoked are collected once no Service wants them; the presence of a node
// without a Node object is revoked, then deleted; a live node's records stay.
func TestCollector_DeletesWhatNobodyNeedsAndNothingElse(t *testing.T) {
	env := shared.Env(t)
	client := kubernetes.NewForConfigOrDie(env.AdminConfig())
	ns := env.Namespace(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	write := func(node string, w election.Write) {
		t.Helper()
		st, err := lease.New(lease.Config{Client: client.CoordinationV1(), Namespace: ns, Identity: node, Duration: 15 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, class, err := st.Do(ctx, w); class != election.ClassNone {
			t.Fatalf("%s %s: %v", w.Op, w.Ref, err)
		}
	}
	get := func(ref election.Ref) election.Record {
		l, err := client.CoordinationV1().Leases(ns).Get(context.Background(), lease.NameOf(ref), metav1.GetOptions{})
		if err != nil {
			return election.Record{}
		}
		return lease.ToRecord(l)
	}
	never, gone, kept := netip.MustParseAddr("198.51.100.70"), netip.MustParseAddr("198.51.100.71"), netip.MustParseAddr("198.51.100.72")
	write("live", election.Write{Ref: election.NodeRef("live"), Op: election.OpCreate, Incarnation: "l1", Token: "t"})
	write("live", election.Write{Ref: election.VIPRef(kept), Op: election.OpCreate, Incarnation: "l1"})
	write("left", election.Write{Ref: election.NodeRef("left"), Op: election.OpCreate, Incarnation: "g1", Token: "t"})
	write("left", election.Write{Ref: election.VIPRef(gone), Op: election.OpCreate, Incarnation: "g1"})
	write("x", election.Write{Ref: election.VIPRef(never), Op: election.OpCreate, Incarnation: "x1"})
	write("x", election.Write{Ref: election.VIPRef(never), Op: election.OpRelease, Base: get(election.VIPRef(never))})
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "live"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	store, err := lease.New(lease.Config{Client: client.CoordinationV1(), Namespace: ns, Identity: "controller", Duration: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := gc.New(gc.Config{Client: client, Store: store, Namespace: ns, Every: 200 * time.Millisecond,
		Timing: gc.Timing{Grace: time.Second, LeaseDuration: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if !get(election.VIPRef(never)).Exists && !get(election.VIPRef(gone)).Exists && !get(election.NodeRef("left")).Exists {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	for _, r := range []election.Ref{election.VIPRef(never), election.VIPRef(gone), election.NodeRef("left")} {
		if rec := get(r); rec.Exists {
			t.Errorf("%s not collected: %s", r, rec)
		}
	}
	if rec := get(election.VIPRef(kept)); !rec.Exists || rec.Holder != "live" {
		t.Errorf("the live node's VIP record was touched: %s (no Service wants it, but its holder lives)", rec)
	}
	if rec := get(election.NodeRef("live")); !rec.Exists || rec.Holder != "live" {
		t.Errorf("the live node's presence was touched: %s", rec)
	}
}
