package lease

import (
	"context"
	"fmt"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Config configures a Store.
type Config struct {
	Client    coordclient.LeasesGetter // from NewClient: lease traffic only
	Namespace string
	Identity  string        // holderIdentity written on acquire and renew: the node name
	Duration  time.Duration // leaseDurationSeconds written on every write
	Now       func() time.Time
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

// Store reads and writes VIP Leases in one namespace.
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

// Get reads the Lease. A missing Lease is (nil, nil).
func (s *Store) Get(ctx context.Context, name string) (*coordv1.Lease, error) {
	l, err := s.leases().Get(ctx, name, metav1.GetOptions{})
	if Classify(err) == election.ClassNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get lease %s/%s: %w", s.cfg.Namespace, name, err)
	}
	return l, nil
}

// Write performs one write the core asked for. base is the Lease object the core's
// Write.Base was read from (nil for Create). Update and Delete are conditioned on
// base's resourceVersion. It returns the Lease as the API server stored it (nil after a
// Delete).
func (s *Store) Write(ctx context.Context, name string, op election.Op, token string, base *coordv1.Lease) (*coordv1.Lease, error) {
	var out *coordv1.Lease
	var err error
	switch op {
	case election.OpCreate:
		out, err = s.leases().Create(ctx, s.fresh(name, token), metav1.CreateOptions{})
	case election.OpDelete:
		err = s.delete(ctx, base)
	default:
		if base == nil {
			return nil, fmt.Errorf("%s lease %s/%s: no base record", op, s.cfg.Namespace, name)
		}
		out, err = s.leases().Update(ctx, s.next(op, token, base), metav1.UpdateOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("%s lease %s/%s: %w", op, s.cfg.Namespace, name, err)
	}
	return out, nil
}

func (s *Store) leases() coordclient.LeaseInterface {
	return s.cfg.Client.Leases(s.cfg.Namespace)
}

func (s *Store) delete(ctx context.Context, base *coordv1.Lease) error {
	if base == nil {
		return fmt.Errorf("no base record")
	}
	rv := base.ResourceVersion
	return s.leases().Delete(ctx, base.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{ResourceVersion: &rv},
	})
}

// fresh is a new Lease held by this node.
func (s *Store) fresh(name, token string) *coordv1.Lease {
	now := metav1.NewMicroTime(s.cfg.Now())
	return &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   s.cfg.Namespace,
			Labels:      map[string]string{ManagedByLabel: ManagedByValue},
			Annotations: map[string]string{TokenAnnotation: token},
		},
		Spec: coordv1.LeaseSpec{
			HolderIdentity:       ptr(s.cfg.Identity),
			LeaseDurationSeconds: ptr(int32(s.cfg.Duration / time.Second)),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
}

// TokenAnnotation carries the write token of the last Create, Acquire or Renew, so a node
// whose write timed out can tell on re-reading whether that very write landed.
const TokenAnnotation = "vipkeeper.io/write-token"

// next is base changed the way client-go's leaderelection changes a Lease: taking it from
// anyone else (another node or a released record) sets acquireTime and adds one to
// leaseTransitions; a renew keeps both; a release clears the holder and, like
// ReleaseOnCancel, sets leaseDurationSeconds to 1 and both times to now.
func (s *Store) next(op election.Op, token string, base *coordv1.Lease) *coordv1.Lease {
	l := base.DeepCopy()
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[TokenAnnotation] = token
	now := metav1.NewMicroTime(s.cfg.Now())
	sp := &l.Spec
	sp.RenewTime = &now
	sp.LeaseDurationSeconds = ptr(int32(s.cfg.Duration / time.Second))
	if op == election.OpRelease {
		sp.HolderIdentity, sp.AcquireTime, sp.LeaseDurationSeconds = ptr(""), &now, ptr(int32(1))
		return l
	}
	if holder(base) != s.cfg.Identity {
		sp.AcquireTime = &now
		sp.LeaseTransitions = ptr(transitions(base) + 1)
	}
	sp.HolderIdentity = ptr(s.cfg.Identity)
	return l
}

// ToRecord is what the election core needs to know of a Lease; nil is "no Lease".
func ToRecord(l *coordv1.Lease) election.Record {
	if l == nil {
		return election.Record{}
	}
	return election.Record{Exists: true, Holder: holder(l), RV: l.ResourceVersion,
		Transitions: transitions(l), Token: l.Annotations[TokenAnnotation]}
}

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
