package lease_test

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/lease/leasetest"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

var shared = testenv.NewShared(testenv.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

// step is one operation of the script and what it must give.
type step struct {
	name  string
	do    func(s *script) (election.Record, election.ErrClass)
	class election.ErrClass
	want  outcome // compared when class is ClassNone
}

// outcome is what the core sees of a record (RVs and tokens differ between servers).
type outcome struct {
	Exists, Terminating bool
	Holder, Incarnation string
	Transitions         int32
	HasToken            bool
}

func outcomeOf(r election.Record) outcome {
	return outcome{Exists: r.Exists, Terminating: r.Terminating, Holder: r.Holder,
		Incarnation: r.Incarnation, Transitions: r.Transitions, HasToken: r.Token != ""}
}

type script struct {
	t      *testing.T
	client kubernetes.Interface
	a, b   *lease.Store
	ctx    context.Context
	last   map[string]election.Record // newest record per step name
}

var (
	vip = netip.MustParseAddr("2001:db8::7")
	vr  = election.VIPRef(vip)
	nr  = election.NodeRef("node-a")
)

func (s *script) write(st *lease.Store, ref election.Ref, op election.Op, base, inc string) (election.Record, election.ErrClass) {
	w := election.Write{Ref: ref, Op: op, Base: s.last[base], Incarnation: inc, Token: "tok-" + op.String(), Reason: "test"}
	rec, class, _ := st.Do(s.ctx, w)
	return rec, class
}

// theScript covers every operation of the core on both kinds of record, the conflicts that
// guard them and the finalizer's effect on a deletion by hand.
var theScript = []step{
	{"create", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, vr, election.OpCreate, "", "ia")
	},
		election.ClassNone, outcome{Exists: true, Holder: "node-a", Incarnation: "ia"}},
	{"create again", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, vr, election.OpCreate, "", "ib")
	},
		election.ClassConflict, outcome{}},
	{"release", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, vr, election.OpRelease, "create", "ia")
	}, election.ClassNone, outcome{Exists: true}},
	{"acquire on a stale version", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, vr, election.OpAcquire, "create", "ib")
	}, election.ClassConflict, outcome{}},
	{"acquire", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, vr, election.OpAcquire, "release", "ib")
	}, election.ClassNone, outcome{Exists: true, Holder: "node-b", Incarnation: "ib", Transitions: 1}},
	{"kubectl delete", func(s *script) (election.Record, election.ErrClass) {
		if err := s.client.CoordinationV1().Leases("vk").Delete(s.ctx, lease.Name(vip), metav1.DeleteOptions{}); err != nil {
			s.t.Fatalf("delete: %v", err)
		}
		rec, class, _ := s.b.Get(s.ctx, vr)
		return rec, class
	}, election.ClassNone, outcome{Exists: true, Terminating: true, Holder: "node-b", Incarnation: "ib", Transitions: 1}},
	{"release of the terminating record deletes it", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, vr, election.OpRelease, "kubectl delete", "ib")
	}, election.ClassNone, outcome{}},
	{"gone", func(s *script) (election.Record, election.ErrClass) {
		rec, class, _ := s.a.Get(s.ctx, vr)
		return rec, class
	},
		election.ClassNotFound, outcome{}},
	{"presence create", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, nr, election.OpCreate, "", "ia")
	}, election.ClassNone, outcome{Exists: true, Holder: "node-a", Incarnation: "ia", HasToken: true}},
	{"renew", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, nr, election.OpRenew, "", "ia")
	},
		election.ClassNone, outcome{Exists: true, Holder: "node-a", Incarnation: "ia", HasToken: true}},
	{"renew of another incarnation", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, nr, election.OpRenew, "", "old")
	}, election.ClassConflict, outcome{}},
	{"renew relayed by a peer, holder unchanged", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, nr, election.OpRenew, "", "ia")
	},
		election.ClassNone, outcome{Exists: true, Holder: "node-a", Incarnation: "ia", HasToken: true}},
	{"relayed renew of another incarnation", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, nr, election.OpRenew, "", "old")
	}, election.ClassConflict, outcome{}},
	{"revoke on a stale version", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, nr, election.OpRevoke, "presence create", "ib")
	}, election.ClassConflict, outcome{}},
	{"revoke", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.b, nr, election.OpRevoke, "renew relayed by a peer, holder unchanged", "ib")
	},
		election.ClassNone, outcome{Exists: true, Incarnation: "ia", HasToken: true}},
	{"renew after revocation", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, nr, election.OpRenew, "", "ia")
	}, election.ClassConflict, outcome{}},
	{"register a new incarnation", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, nr, election.OpAcquire, "revoke", "ia2")
	}, election.ClassNone, outcome{Exists: true, Holder: "node-a", Incarnation: "ia2", Transitions: 1, HasToken: true}},
	{"resign", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, nr, election.OpRelease, "", "ia2")
	},
		election.ClassNone, outcome{Exists: true, Incarnation: "ia2", Transitions: 1, HasToken: true}},
	{"renew of a missing record", func(s *script) (election.Record, election.ErrClass) {
		return s.write(s.a, election.NodeRef("node-z"), election.OpRenew, "", "iz")
	}, election.ClassNotFound, outcome{}},
}

func runScript(t *testing.T, client kubernetes.Interface, ns string, real bool) {
	ctx := context.Background()
	mk := func(node string) *lease.Store {
		st, err := lease.New(lease.Config{Client: client.CoordinationV1(), Namespace: ns, Identity: node, Duration: 15 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	s := &script{t: t, client: client, a: mk("node-a"), b: mk("node-b"), ctx: ctx, last: map[string]election.Record{}}
	for _, st := range theScript {
		rec, class := st.do(s)
		if class != st.class {
			t.Fatalf("%s: class %v, want %v (record %s)", st.name, class, st.class, rec)
		}
		s.last[st.name] = rec
		if class == election.ClassNone {
			if diff := cmp.Diff(st.want, outcomeOf(rec)); diff != "" {
				t.Errorf("%s: record (-want +got):\n%s", st.name, diff)
			}
		}
	}
	if !real {
		return // the fake has no namespaces
	}
	missing, err := lease.New(lease.Config{Client: client.CoordinationV1(), Namespace: "absent-ns", Identity: "node-a", Duration: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, class, err := missing.Do(ctx, election.Write{Ref: vr, Op: election.OpCreate, Incarnation: "ia"}); class != election.ClassNotFound {
		t.Errorf("create in a missing namespace: class %v (%v), want notfound", class, err)
	}
}

func TestStore_AgainstTheRealAPIServer(t *testing.T) {
	env := shared.Env(t)
	client := kubernetes.NewForConfigOrDie(env.AdminConfig())
	_, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vk"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runScript(t, client, "vk", true)
}

// TestStore_TheFakeAgreesWithTheRealAPIServer runs the same script on client-go's fake with
// leasetest's Lease semantics, which the daemon's deterministic tests rely on.
func TestStore_TheFakeAgreesWithTheRealAPIServer(t *testing.T) {
	cs := fake.NewClientset()
	leasetest.WithLeaseSemantics(cs)
	runScript(t, cs, "vk", false)
}
