package lease

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coordclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Config configures a Store.
type Config struct {
	Client    coordclient.LeasesGetter // from NewClient: lease traffic only
	Namespace string
	Identity  string        // this node's name: holderIdentity of what it writes
	Duration  time.Duration // leaseDurationSeconds written for humans and kubectl
	// PeerAddress, if set, is published on this node's presence Lease (ride-through).
	PeerAddress string
	Now         func() time.Time
}

// Validate reports the first missing or invalid field.
func (c Config) Validate() error {
	switch {
	case c.Client == nil:
		return fmt.Errorf("lease store: Client is nil")
	case c.Namespace == "":
		return fmt.Errorf("lease store: Namespace is empty")
	case c.Identity == "":
		return fmt.Errorf("lease store: Identity is empty")
	case c.Duration < time.Second:
		return fmt.Errorf("lease store: Duration %v is shorter than 1s", c.Duration)
	}
	return nil
}

// Store reads and writes vipkeeper's Leases in one namespace, as the election core asks.
type Store struct {
	cfg Config
}

// New returns a Store for cfg.
func New(cfg Config) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Store{cfg: cfg}, nil
}

// Get reads the record ref names (a GET, not the informer cache). A missing Lease is
// ClassNotFound.
func (s *Store) Get(ctx context.Context, ref election.Ref) (election.Record, election.ErrClass, error) {
	name := NameOf(ref)
	l, err := s.leases().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return election.Record{}, Classify(err), fmt.Errorf("get lease %s/%s: %w", s.cfg.Namespace, name, err)
	}
	return ToRecord(l), election.ClassNone, nil
}

// Do performs one write the core asked for and classifies its outcome. A renewal or
// resignation whose test failed (the record no longer names our incarnation) is
// ClassConflict.
func (s *Store) Do(ctx context.Context, w election.Write) (election.Record, election.ErrClass, error) {
	name := NameOf(w.Ref)
	l, err := s.do(ctx, name, w)
	if err != nil {
		class := Classify(err)
		if isTestFailure(w, err) {
			class = election.ClassConflict
		}
		return election.Record{}, class, fmt.Errorf("%s lease %s/%s: %w", w.Op, s.cfg.Namespace, name, err)
	}
	return ToRecord(l), election.ClassNone, nil
}

func (s *Store) do(ctx context.Context, name string, w election.Write) (*coordv1.Lease, error) {
	switch {
	case w.Op == election.OpCreate:
		return s.leases().Create(ctx, s.fresh(name, w), metav1.CreateOptions{})
	case w.Op == election.OpDelete:
		rv := w.Base.RV
		return nil, s.leases().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	case w.Op == election.OpRenew || (w.Op == election.OpRelease && w.Ref.Kind == election.KindNode):
		return s.patch(ctx, name, types.JSONPatchType, s.presencePatch(w))
	}
	return s.patch(ctx, name, types.MergePatchType, s.casPatch(w))
}

func (s *Store) patch(ctx context.Context, name string, pt types.PatchType, body []byte) (*coordv1.Lease, error) {
	return s.leases().Patch(ctx, name, pt, body, metav1.PatchOptions{})
}

func (s *Store) leases() coordclient.LeaseInterface { return s.cfg.Client.Leases(s.cfg.Namespace) }

// fresh is a new Lease held by this node with our incarnation: a VIP's with the held
// finalizer, or our own presence.
func (s *Store) fresh(name string, w election.Write) *coordv1.Lease {
	now := metav1.NewMicroTime(s.cfg.Now())
	l := &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.cfg.Namespace,
			Labels:      map[string]string{ManagedByLabel: ManagedByValue, KindLabel: kindOf(w.Ref)},
			Annotations: map[string]string{AnnotationIncarnation: w.Incarnation}},
		Spec: coordv1.LeaseSpec{HolderIdentity: ptr(s.cfg.Identity), LeaseDurationSeconds: s.seconds(),
			AcquireTime: &now, RenewTime: &now, LeaseTransitions: ptr(int32(0))},
	}
	if w.Ref.Kind == election.KindVIP {
		l.Finalizers = []string{HeldFinalizer}
		l.Annotations[AnnotationVIP] = w.Ref.VIP.String()
		l.Annotations[AnnotationTransition] = w.Reason
	} else {
		l.Annotations[AnnotationNode] = s.cfg.Identity
		l.Annotations[TokenAnnotation] = w.Token
		if s.cfg.PeerAddress != "" {
			l.Annotations[AnnotationPeerAddress] = s.cfg.PeerAddress
		}
	}
	return l
}

func (s *Store) seconds() *int32 { return ptr(int32(s.cfg.Duration / time.Second)) }

// casPatch is a merge patch carrying Base.RV: kube-apiserver applies it only to that very
// version (409 otherwise), and it leaves every field we do not set alone.
func (s *Store) casPatch(w election.Write) []byte {
	now := metav1.NewMicroTime(s.cfg.Now())
	meta := map[string]any{"resourceVersion": w.Base.RV}
	ann := map[string]any{}
	spec := map[string]any{"renewTime": now, "leaseDurationSeconds": s.seconds()}
	switch w.Op {
	case election.OpAcquire:
		spec["holderIdentity"], spec["acquireTime"] = s.cfg.Identity, now
		if w.Base.Holder != s.cfg.Identity {
			spec["leaseTransitions"] = w.Base.Transitions + 1
		}
		ann[AnnotationIncarnation] = w.Incarnation
		if w.Ref.Kind == election.KindVIP {
			meta["finalizers"] = []string{HeldFinalizer}
			ann[AnnotationTransition] = w.Reason
		} else {
			ann[TokenAnnotation], ann[AnnotationRevokedBy], ann[AnnotationNode] = w.Token, nil, s.cfg.Identity
			if s.cfg.PeerAddress != "" {
				ann[AnnotationPeerAddress] = s.cfg.PeerAddress
			}
		}
	case election.OpRelease: // a VIP: released, and no longer held against deletion
		spec["holderIdentity"], meta["finalizers"] = "", nil
		ann[AnnotationIncarnation], ann[AnnotationTransition] = nil, w.Reason
	case election.OpRevoke: // a peer's presence: its incarnation ends
		spec["holderIdentity"] = ""
		ann[AnnotationRevokedBy] = s.cfg.Identity
	}
	meta["annotations"] = ann
	b, _ := json.Marshal(map[string]any{"metadata": meta, "spec": spec}) // plain maps: cannot fail
	return b
}

// presencePatch is a JSON patch that applies only while the record names our node and
// incarnation (its test operations fail with 422 otherwise). It carries no resourceVersion,
// so several may be in flight: a renewal sets renewTime and its write token; a resignation
// ends the incarnation.
func (s *Store) presencePatch(w election.Write) []byte {
	// A renewal relayed for a peer (ride-through rule 4) names that peer: holder unchanged.
	holder := w.Ref.Node
	ops := []map[string]any{
		{"op": "test", "path": "/spec/holderIdentity", "value": holder},
		{"op": "test", "path": "/metadata/annotations/" + escape(AnnotationIncarnation), "value": w.Incarnation},
		{"op": "add", "path": "/spec/renewTime", "value": metav1.NewMicroTime(s.cfg.Now())},
	}
	if w.Op == election.OpRenew {
		ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations/" + escape(TokenAnnotation), "value": w.Token})
	} else {
		ops = append(ops, map[string]any{"op": "replace", "path": "/spec/holderIdentity", "value": ""},
			map[string]any{"op": "add", "path": "/metadata/annotations/" + escape(AnnotationRevokedBy), "value": s.cfg.Identity})
	}
	b, _ := json.Marshal(ops)
	return b
}

// escape is JSON Pointer escaping (RFC 6901) of one path segment.
func escape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

// ToRecord is what the election core needs to know of a Lease; nil is "no Lease". A Lease
// being deleted with no finalizer left is gone (the API returns it once more).
func ToRecord(l *coordv1.Lease) election.Record {
	if l == nil || (l.DeletionTimestamp != nil && len(l.Finalizers) == 0) {
		return election.Record{}
	}
	return election.Record{Exists: true, Holder: holder(l), Incarnation: l.Annotations[AnnotationIncarnation],
		RV: l.ResourceVersion, Transitions: transitions(l), Token: l.Annotations[TokenAnnotation],
		Terminating: l.DeletionTimestamp != nil, PeerAddr: l.Annotations[AnnotationPeerAddress]}
}

// NameOf is the Lease name of a record.
func NameOf(ref election.Ref) string {
	if ref.Kind == election.KindNode {
		return NodeName(ref.Node)
	}
	return Name(ref.VIP)
}

// RefOf says which record a Lease of ours is: by its kind label and annotations, or, for a
// Lease written before them, by its name.
func RefOf(l *coordv1.Lease) (election.Ref, bool) {
	if l.Labels[KindLabel] == KindNode || l.Annotations[AnnotationNode] != "" {
		if n := l.Annotations[AnnotationNode]; n != "" {
			return election.NodeRef(n), true
		}
		return election.Ref{}, false
	}
	if ip, err := netip.ParseAddr(l.Annotations[AnnotationVIP]); err == nil {
		return election.VIPRef(ip), true
	}
	if ip, ok := ParseName(l.Name); ok {
		return election.VIPRef(ip), true
	}
	return election.Ref{}, false
}

func kindOf(r election.Ref) string {
	if r.Kind == election.KindNode {
		return KindNode
	}
	return KindVIP
}

// TokenAnnotation carries the write token of the last presence write, so a node whose
// write timed out can tell on re-reading whether that very write landed.
const TokenAnnotation = "vipkeeper.io/write-token"

func holder(l *coordv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func transitions(l *coordv1.Lease) int32 {
	if l.Spec.LeaseTransitions == nil {
		return 0
	}
	return *l.Spec.LeaseTransitions
}

func ptr[T any](v T) *T { return &v }
