package announce

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"
)

// Sentinel errors; test with errors.Is. doc.go says which the core acts on and how.
var (
	ErrClosed     = errors.New("announcer closed")
	ErrExpired    = errors.New("deadline too close: less than a second (fence mode: FenceMinLeft) away")
	ErrInvalidVIP = errors.New("not a global unicast address")
	// ErrForeign: a copy of the VIP that vipkeeper does not own is on the interface that
	// would carry it. Permanent until that address goes away.
	ErrForeign = errors.New("a copy of the address not owned by vipkeeper is on the interface")
	// ErrCannotCarry: this node cannot put the VIP on an interface: none is chosen (see
	// ErrNoInterface), the chosen one is missing, down or without carrier, or lacks IPv6.
	ErrCannotCarry = errors.New("this node cannot carry the vip")
	// ErrNoInterface: no interface's connected network covers the VIP. It is also
	// ErrCannotCarry.
	ErrNoInterface = errors.New("no interface covers the vip")
	// ErrAnnounce: the first announcement failed, so the address was removed again.
	ErrAnnounce = errors.New("first announcement failed")
	// ErrKernel: a netlink request failed; it may succeed when retried.
	ErrKernel = errors.New("netlink request failed")

	// ErrNotOwned is ErrForeign's former name.
	//
	// Deprecated: use ErrForeign.
	ErrNotOwned = ErrForeign
)

// classified is an error with a message, an optional cause and one sentinel class.
type classified struct {
	msg   string
	cause error
	class error
}

func (e *classified) Error() string {
	if e.cause == nil {
		return e.msg
	}
	return e.msg + ": " + e.cause.Error()
}

func (e *classified) Unwrap() []error {
	if e.cause == nil {
		return []error{e.class}
	}
	return []error{e.cause, e.class}
}

// kernelErr classifies a failed netlink request op: ErrCannotCarry when the interface is
// gone, ErrKernel otherwise. nil stays nil.
func kernelErr(op string, err error) error {
	if err == nil {
		return nil
	}
	class := ErrKernel
	if errors.Is(err, unix.ENODEV) {
		class = ErrCannotCarry
	}
	return &classified{msg: op, cause: err, class: class}
}

// cannotCarry is an ErrCannotCarry saying why.
func cannotCarry(format string, args ...any) error {
	return &classified{msg: fmt.Sprintf(format, args...), class: ErrCannotCarry}
}

// foreignError says that a copy of ip that vipkeeper does not own is on iface.
func foreignError(ip netip.Addr, iface string) error {
	return &classified{msg: fmt.Sprintf("%s is on %s and not owned by vipkeeper", ip, iface), class: ErrForeign}
}

// noInterfaceError says that no interface (of those allowed, if any) is on the VIP's network.
type noInterfaceError struct {
	ip      netip.Addr
	allowed []string
}

func (e noInterfaceError) Error() string {
	if len(e.allowed) > 0 {
		return fmt.Sprintf("no interface matching %s has a connected route covering %s", strings.Join(e.allowed, ","), e.ip)
	}
	return fmt.Sprintf("no interface has a connected route covering %s; set --interface", e.ip)
}

func (e noInterfaceError) Is(target error) bool {
	return target == ErrNoInterface || target == ErrCannotCarry
}

// RemoveError is returned by Remove, and by Set (the start-up sweep Set(ctx, nil)
// included), when addresses they were to take off the node may still be on it; find it
// with errors.As. Each such address stays at most until the kernel lifetime it was given
// runs out. Err holds the causes, each ErrKernel (a netlink request failed) or ErrForeign
// (a copy vipkeeper does not recognise as its own sits where it had put the VIP).
type RemoveError struct {
	Left []netip.Addr // sorted
	Err  error
}

func (e *RemoveError) Error() string {
	ips := make([]string, len(e.Left))
	for i, ip := range e.Left {
		ips[i] = ip.String()
	}
	return fmt.Sprintf("could not remove %s: %v", strings.Join(ips, ", "), e.Err)
}

func (e *RemoveError) Unwrap() error { return e.Err }

// removeError returns a *RemoveError for left, or nil when left is empty.
func removeError(left []netip.Addr, errs []error) error {
	if len(left) == 0 {
		return nil
	}
	return &RemoveError{Left: left, Err: errors.Join(errs...)}
}
