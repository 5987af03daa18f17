package election

import (
	"fmt"
	"net/netip"
	"time"
)

// Kind says which of the two kinds of record a Ref names.
type Kind int

// The record kinds.
const (
	KindVIP  Kind = iota + 1 // a VIP's ownership record (its Lease)
	KindNode                 // a node's presence record (its node Lease)
)

// Ref names one record: a VIP's ownership record, or a node's presence record.
type Ref struct {
	Kind Kind
	VIP  netip.Addr // KindVIP
	Node string     // KindNode
}

// VIPRef and NodeRef build Refs.
func VIPRef(ip netip.Addr) Ref { return Ref{Kind: KindVIP, VIP: ip} }
func NodeRef(node string) Ref  { return Ref{Kind: KindNode, Node: node} }
func (r Ref) String() string {
	if r.Kind == KindNode {
		return "node/" + r.Node
	}
	return "vip/" + r.VIP.String()
}

// Record is what the shell read of a record, or Exists=false when there is none.
type Record struct {
	Exists bool
	// Holder: for a VIP, the announcing node ("" = released); for a node's presence, the
	// node while its incarnation lives, "" once the incarnation was revoked or resigned.
	Holder string
	// Incarnation: the holder's incarnation (VIP), or the incarnation that lives or was
	// revoked (node).
	Incarnation string
	RV          string // resourceVersion: compared for equality only, never ordered
	Transitions int32
	// Token is the write token of the last write that set it (presence writes only), so a
	// node whose write timed out can tell on re-reading whether that very write landed.
	Token string
	// Terminating: a deletion was requested (deletionTimestamp); the record stays while
	// the held finalizer is on it.
	Terminating bool
	// PeerAddr is the peer-channel address a node publishes on its presence record
	// (ride-through). The core never reads it; the shell sends peer messages there.
	PeerAddr string
}

// String is a short form for logs and traces: "absent", "rv=7 holder=b/i3".
func (r Record) String() string {
	if !r.Exists {
		return "absent"
	}
	s := fmt.Sprintf("rv=%s holder=%s/%s", r.RV, r.Holder, r.Incarnation)
	if r.Terminating {
		s += " terminating"
	}
	return s
}

// revoked reports a presence record whose incarnation has ended.
func (r Record) revoked() bool { return r.Exists && r.Holder == "" }

// ErrClass is how the shell classifies the outcome of a read or write.
type ErrClass int

// The error classes, from lease.Classify.
const (
	ClassNone      ErrClass = iota // success
	ClassConflict                  // 409, or a renewal whose test failed (422): the record moved on
	ClassTransient                 // timeouts, 5xx, 429, refused: the write may or may not have landed
	ClassPermanent                 // 400, 401, 403, 422: not applied; a configuration error
	ClassNotFound                  // 404: the record (or its namespace) does not exist
)

var classNames = [...]string{"none", "conflict", "transient", "permanent", "notfound"}

func (c ErrClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("ErrClass(%d)", int(c))
	}
	return classNames[c]
}

// Op is the kind of write.
type Op int

// The write operations. The zero Op is invalid. On a VIP record:
//   - Create: the record held by us (with the held finalizer); fails if it exists.
//   - Acquire: CAS on Base.RV: holder := us with our incarnation, finalizer on.
//   - Release: CAS on Base.RV: holder := "", finalizer off (a terminating record is then gone).
//   - Delete: delete with a resourceVersion precondition (after Release).
//
// On our own presence record: Create and Acquire register our incarnation (Acquire by CAS
// on Base.RV); Renew is a patch conditioned on holder and incarnation (no resourceVersion,
// so renewals may overlap); Release resigns our incarnation (same condition). On a peer's
// presence record: Revoke, a CAS on Base.RV that ends its incarnation.
const (
	OpCreate Op = iota + 1
	OpAcquire
	OpRenew
	OpRelease
	OpDelete
	OpRevoke
)

var opNames = [...]string{"", "create", "acquire", "renew", "release", "delete", "revoke"}

func (o Op) String() string {
	if o <= 0 || int(o) >= len(opNames) {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// Event is an input to Step. Events are named in the past tense.
type Event interface{ event() }

// Observed is a record from the informer. It may lag; the shell never delivers a record older
// than one it delivered before for the same Ref, by an observation or a result.
type Observed struct {
	Ref    Ref
	Record Record
}

// WantChanged says what the Services want of one VIP: whether any Service wants it, whether
// this node is a candidate, and this node's 0-based rendezvous rank. Ahead names the
// candidates ranked before this node (len(Ahead) == Rank).
type WantChanged struct {
	VIP netip.Addr
	Want
}

// Want is what this node should do about one VIP.
type Want struct {
	Wanted   bool
	Eligible bool
	Rank     int
	Ahead    []string
}

// WriteDone reports the outcome of Write ID. Record is the record as the API returned it
// when Class is ClassNone. Took is how long the request took (the shell's measurement).
// Stale says the shell already delivered a newer version of the record (by resourceVersion
// order, which only the shell knows): the outcome counts, the record does not.
type WriteDone struct {
	ID     uint64
	Record Record
	Class  ErrClass
	Took   time.Duration
	Stale  bool
}

// ReadDone reports the outcome of Read ID. ClassNotFound means the record does not exist.
// Stale is as for WriteDone: a read served before a version the shell already delivered.
type ReadDone struct {
	ID     uint64
	Record Record
	Class  ErrClass
	Took   time.Duration
	Stale  bool
}

// PlaneDue says the shell is about to run the queued Install of VIP. The core answers with
// a Ready Install (Until from the fence that stands now, which may be newer than the queued
// one's) or, if the address should no longer go up here, with none: the Install is then
// cancelled and the VIP planned afresh.
type PlaneDue struct{ VIP netip.Addr }

// PlaneDone reports the outcome of an Install or Uninstall of one VIP.
type PlaneDone struct {
	VIP     netip.Addr
	Install bool // the action was Install (else Uninstall)
	Class   PlaneClass
}

// PlaneClass classifies a data-plane outcome.
type PlaneClass int

// The data-plane classes.
const (
	PlaneOK        PlaneClass = iota
	PlaneTransient            // a kernel call failed; worth retrying soon
	PlaneRefused              // the node cannot carry the VIP here (foreign address, no interface): give it up
	// PlaneExpired: the Until asked for was less than the kernel's one second away when the
	// call ran (the loop was late, not the VIP at fault). Not a failure of the VIP: the
	// install is asked again once the fence has moved past it.
	PlaneExpired
)

// Swept reports the start-up sweep (removing every VIP an earlier process left): OK false
// means some address may still be up, for at most RenewDeadline + slack + lateness.
type Swept struct{ OK bool }

// Ticked is sent at or after NextWake (extra ticks are harmless).
type Ticked struct{}

// StopRequested asks the node to withdraw, release and stop (SIGTERM).
type StopRequested struct{}

func (Observed) event()      {}
func (WantChanged) event()   {}
func (WriteDone) event()     {}
func (ReadDone) event()      {}
func (PlaneDue) event()      {}
func (PlaneDone) event()     {}
func (Swept) event()         {}
func (Ticked) event()        {}
func (StopRequested) event() {}

// Action is an output of Step, to be executed in order. Actions are imperative.
type Action interface{ action() }

// Write asks for one write of Ref, bounded by Timeout, reported with WriteDone{ID}. Base is
// the record a CAS is conditioned on (its RV). Incarnation is ours (written as holder
// incarnation); Token, if set, is stored with the record. Reason says why, for humans
// (AnnotationTransition on VIP records).
type Write struct {
	ID          uint64
	Ref         Ref
	Op          Op
	Base        Record
	Incarnation string
	Token       string
	Reason      string
	Timeout     time.Duration
}

// Read asks for one linearizable read of Ref (a GET from the API server, not the informer
// cache), bounded by Timeout. Report it with ReadDone{ID}.
type Read struct {
	ID      uint64
	Ref     Ref
	Timeout time.Duration
}

// Install puts (or refreshes) the VIP. The data plane must make the address expire by
// itself at or before Until. Report the outcome with PlaneDone. A shell may run it at once,
// or queue it; a queued Install is run only after stepping PlaneDue for its VIP, whose
// answer is the Install to run then (Ready, Until from the newest fence) or none.
type Install struct {
	VIP   netip.Addr
	Until time.Time
	Ready bool // the answer to PlaneDue: run it now
	// Refresh: the address is up and only its lifetime is extended. A shell that queues
	// Installs runs refreshes first: a late refresh lets a held address expire.
	Refresh bool
}

// Uninstall removes the VIP now. Reason is one of a small fixed set (a metric label).
// Report the outcome with PlaneDone before the next action.
type Uninstall struct {
	VIP    netip.Addr
	Reason string
}

// Sweep asks the shell to retry the start-up sweep and report Swept.
type Sweep struct{}

// Stopped is the last action; after it Step does nothing.
type Stopped struct{}

func (Write) action()     {}
func (Read) action()      {}
func (Install) action()   {}
func (Uninstall) action() {}
func (Sweep) action()     {}
func (Stopped) action()   {}

// Withdrawal reasons (Uninstall.Reason).
const (
	ReasonDeadline    = "renew deadline passed"
	ReasonLost        = "lease held by another node"
	ReasonDeleted     = "lease deleted"
	ReasonNotEligible = "not eligible"
	ReasonNotWanted   = "not wanted"
	ReasonStopping    = "stopping"
	ReasonClockJump   = "clock stepped back"
	ReasonIncarnation = "incarnation ended"
	ReasonRefused     = "cannot install here"
	ReasonRetry       = "retrying removal"
	ReasonRideEnded   = "ride-through ended"
)
