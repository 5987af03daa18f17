package cpvip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// fakeStore answers every call with err (nil: success) and counts the calls.
type fakeStore struct {
	name         string
	err          error
	gets, writes int
	ops          []election.Op
}

func (f *fakeStore) Get(ctx context.Context, _ election.Ref) (election.Record, election.ErrClass, error) {
	f.gets++
	return f.answer()
}

func (f *fakeStore) Do(ctx context.Context, w election.Write) (election.Record, election.ErrClass, error) {
	f.writes++
	f.ops = append(f.ops, w.Op)
	return f.answer()
}

func (f *fakeStore) answer() (election.Record, election.ErrClass, error) {
	if f.err != nil {
		return election.Record{}, lease.Classify(f.err), f.err
	}
	return election.Record{Exists: true, RV: f.name}, election.ClassNone, nil
}

var ref = election.VIPRef(netip.MustParseAddr("198.51.100.5"))

type fixedPeers []daemon.LeaseStore

func (p fixedPeers) Stores() []daemon.LeaseStore { return p }

var (
	refused   = fmt.Errorf("dial tcp 127.0.0.1:6443: %w", syscall.ECONNREFUSED)
	forbidden = apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "x", fmt.Errorf("RBAC"))
	conflict  = apierrors.NewConflict(schema.GroupResource{Resource: "leases"}, "x", fmt.Errorf("rv"))
)

func newTestStore(local *fakeStore, peers ...*fakeStore) *store {
	s := &store{local: local, log: slog.New(slog.DiscardHandler)}
	if peers != nil {
		var ps fixedPeers
		for _, p := range peers {
			ps = append(ps, p)
		}
		s.peers = ps
	}
	return s
}

func ctxSecond(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The safety rule of the mode: a write that makes this node the holder never leaves the
// local API server, whatever it answers.
func TestStore_HolderWritesNeverGoToPeers(t *testing.T) {
	for _, op := range []election.Op{election.OpCreate, election.OpAcquire, election.OpRenew, election.OpDelete, election.OpRevoke} {
		local, peer := &fakeStore{err: refused}, &fakeStore{name: "peer"}
		s := newTestStore(local, peer)
		if _, _, err := s.Do(ctxSecond(t), election.Write{Ref: ref, Op: op}); err != refused {
			t.Errorf("%v: err %v, want the local refusal", op, err)
		}
		if peer.writes != 0 || local.writes != 1 {
			t.Errorf("%v: local %d writes, peer %d; want 1 and 0", op, local.writes, peer.writes)
		}
	}
}

func TestStore_ReleaseFallsBackToTheFirstPeerThatAnswers(t *testing.T) {
	local, down, up, unused := &fakeStore{err: refused}, &fakeStore{err: refused}, &fakeStore{name: "up"}, &fakeStore{name: "unused"}
	s := newTestStore(local, down, up, unused)
	l, _, err := s.Do(ctxSecond(t), election.Write{Ref: ref, Op: election.OpRelease})
	if err != nil || l.RV != "up" {
		t.Fatalf("release: %v, %v; want the answer of peer up", l, err)
	}
	if down.writes != 1 || up.writes != 1 || unused.writes != 0 {
		t.Errorf("peer writes %d %d %d, want 1 1 0", down.writes, up.writes, unused.writes)
	}
}

func TestStore_ReleaseStopsAtADefinitiveAnswer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local error
		peer  error
		want  error
		peers int
	}{
		{"local success", nil, nil, nil, 0},
		{"local conflict is the answer", conflict, nil, conflict, 0},
		{"local forbidden is the answer", forbidden, nil, forbidden, 0},
		{"peer conflict is the answer", refused, conflict, conflict, 1},
		{"all down: the local error", refused, refused, refused, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local, peer := &fakeStore{err: tc.local}, &fakeStore{err: tc.peer}
			_, _, err := newTestStore(local, peer).Do(ctxSecond(t), election.Write{Ref: ref, Op: election.OpRelease})
			if err != tc.want || peer.writes != tc.peers {
				t.Errorf("err %v, peer writes %d; want %v, %d", err, peer.writes, tc.want, tc.peers)
			}
		})
	}
}

func TestStore_ReadFallsBackWithoutPeersItDoesNot(t *testing.T) {
	local, peer := &fakeStore{err: refused}, &fakeStore{name: "peer"}
	if l, _, err := newTestStore(local, peer).Get(ctxSecond(t), ref); err != nil || l.RV != "peer" {
		t.Errorf("get with a peer: %v %v", l, err)
	}
	local = &fakeStore{err: refused}
	if _, _, err := newTestStore(local).Get(ctxSecond(t), ref); err != refused {
		t.Errorf("get without peers: %v, want the local error", err)
	}
}

// A hung local API server gets half of the attempt, so the peer still has time.
func TestStore_LocalAttemptGetsAShareOfTheTime(t *testing.T) {
	s := newTestStore(&fakeStore{}, &fakeStore{})
	ctx := ctxSecond(t)
	dl, _ := s.localCtx(ctx).Deadline()
	if left := time.Until(dl); left > 600*time.Millisecond || left < 300*time.Millisecond {
		t.Errorf("local share %v of 1s, want about half", left)
	}
}
