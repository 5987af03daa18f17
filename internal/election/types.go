package election

import (
	"fmt"
	"time"
)

// Record is what the shell read from the Lease, or Exists=false when there is none.
type Record struct {
	Exists      bool
	Holder      string // "" = released
	RV          string // resourceVersion: compared for equality only, never ordered
	Transitions int32
	// Token is the write token stored with the Lease by the last Create, Acquire or Renew
	// (Write.Token). It lets the core recognise its own write after a timeout; "" if the
	// shell does not round-trip tokens, which is safe but forgoes keeping such writes.
	Token string
}

// String is a short form for logs and traces: "absent", "rv=7 holder=node-a".
func (r Record) String() string {
	if !r.Exists {
		return "absent"
	}
	return fmt.Sprintf("rv=%s holder=%s", r.RV, r.Holder)
}

func (r Record) names(id string) bool { return r.Exists && r.Holder == id }

// ErrClass is how the shell classifies the outcome of a read or write.
type ErrClass int

// The error classes, from lease.Classify.
const (
	ClassNone      ErrClass = iota // success
	ClassConflict                  // 409: the resourceVersion moved (or the Lease exists, on Create)
	ClassTransient                 // timeouts, 5xx, 429, refused: the write may or may not have landed
	ClassPermanent                 // 400, 401, 403, 422: not applied; a configuration error
	ClassNotFound                  // 404: the Lease does not exist
)

var classNames = [...]string{"none", "conflict", "transient", "permanent", "notfound"}

func (c ErrClass) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("ErrClass(%d)", int(c))
	}
	return classNames[c]
}

// Op is the kind of Lease write.
type Op int

// The write operations. The zero Op is invalid.
const (
	OpCreate  Op = iota + 1 // create the Lease held by us (fails if it exists)
	OpAcquire               // CAS: holder := us, acquireTime, leaseTransitions+1 if the holder changes
	OpRenew                 // CAS: holder := us (already us), renewTime
	OpRelease               // CAS: holder := ""
	OpDelete                // delete with a resourceVersion precondition
)

var opNames = [...]string{"", "create", "acquire", "renew", "release", "delete"}

func (o Op) String() string {
	if o <= 0 || int(o) >= len(opNames) {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// setsHolder reports whether a write of this kind makes us the holder.
func (o Op) setsHolder() bool { return o == OpCreate || o == OpAcquire || o == OpRenew }

// State is the elector's coarse state, for metrics and logs.
type State int

// The states.
const (
	StateIdle      State = iota // not a candidate: not eligible, or the VIP is not wanted
	StateCandidate              // eligible and wanted, not announcing
	StateLeader                 // announcing, within its deadline
	StateStopping               // StopRequested, release in progress
	StateStopped                // Stopped was emitted; Step does nothing any more
)

var stateNames = [...]string{"idle", "candidate", "leader", "stopping", "stopped"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// Event is an input to Step. Events are named in the past tense.
type Event interface{ event() }

// Observed is a Lease state from the informer. It may be stale or out of order.
type Observed struct{ Record Record }

// EligibilityChanged says whether this node is a candidate for the VIP (Eligible), whether
// any Service still wants the VIP (Wanted) and this node's 0-based rendezvous rank. Ahead,
// if set, names the candidates ranked before this node (len(Ahead) == Rank): when a Lease
// is released, its releaser is not counted, so the best-ranked remaining node takes it at
// once.
type EligibilityChanged struct {
	Eligible bool
	Wanted   bool
	Rank     int
	Ahead    []string
}

// WriteDone reports the outcome of Write ID. Record is the Lease as the API returned it
// when Class is ClassNone.
type WriteDone struct {
	ID     uint64
	Record Record
	Class  ErrClass
}

// ReadDone reports the outcome of Read ID. ClassNotFound means the Lease does not exist.
type ReadDone struct {
	ID     uint64
	Record Record
	Class  ErrClass
}

// Ticked is sent at or after NextWake (extra ticks are harmless).
type Ticked struct{}

// StopRequested asks the elector to withdraw, release and stop (SIGTERM).
type StopRequested struct{}

func (Observed) event()           {}
func (EligibilityChanged) event() {}
func (WriteDone) event()          {}
func (ReadDone) event()           {}
func (Ticked) event()             {}
func (StopRequested) event()      {}

// Action is an output of Step, to be executed in order. Actions are imperative.
type Action interface{ action() }

// Write asks for one compare-and-swap write of the Lease, conditioned on Base.RV (Create:
// on the Lease not existing), bounded by Timeout. Create, Acquire and Renew store Token
// with the Lease (and return it in Records). Report the outcome with WriteDone{ID}.
type Write struct {
	ID      uint64
	Op      Op
	Base    Record
	Token   string
	Timeout time.Duration
}

// Read asks for one linearizable read of the Lease (a GET from the API server, not the
// informer cache), bounded by Timeout. Report it with ReadDone{ID}.
type Read struct {
	ID      uint64
	Timeout time.Duration
}

// Announce puts (or refreshes) the VIP. The data plane must make the address expire by
// itself at or before Until (kernel valid_lft, rounded down).
type Announce struct{ Until time.Time }

// Withdraw removes the VIP now, before any later action runs. Reason is one of a small
// fixed set (it is a metric label).
type Withdraw struct{ Reason string }

// Stopped is the last action; after it Step does nothing.
type Stopped struct{}

func (Write) action()    {}
func (Read) action()     {}
func (Announce) action() {}
func (Withdraw) action() {}
func (Stopped) action()  {}

// Withdraw reasons.
const (
	ReasonDeadline    = "renew deadline passed"
	ReasonLost        = "lease held by another node"
	ReasonDeleted     = "lease deleted"
	ReasonNotEligible = "not eligible"
	ReasonNotWanted   = "not wanted"
	ReasonStopping    = "stopping"
	ReasonClockJump   = "clock stepped back"
)
