package lease

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Classify maps an error returned by client-go to the election core's error class.
//
// Conflict and AlreadyExists mean "someone else wrote first": re-read, never a loss by
// itself. NotFound means the Lease was deleted. 400, 401, 403, 405, 406, 415 and 422 are
// configuration errors (Permanent): retried slowly, never fatal. Everything else, including
// errors we do not recognise, is Transient: the API may answer again, and giving up is the
// failure mode we exist to fix (kube-vip#475, #1377).
func Classify(err error) election.ErrClass {
	switch {
	case err == nil:
		return election.ClassNone
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return election.ClassConflict
	case apierrors.IsNotFound(err):
		return election.ClassNotFound
	case isPermanent(err):
		return election.ClassPermanent
	default:
		return election.ClassTransient
	}
}

func isPermanent(err error) bool {
	if isNetwork(err) {
		return false
	}
	return apierrors.IsBadRequest(err) || apierrors.IsUnauthorized(err) ||
		apierrors.IsForbidden(err) || apierrors.IsInvalid(err) ||
		apierrors.IsMethodNotSupported(err) || apierrors.IsNotAcceptable(err) ||
		apierrors.IsUnsupportedMediaType(err) || apierrors.IsRequestEntityTooLargeError(err)
}

// isNetwork reports errors below HTTP: deadlines, refused or reset connections, EOFs.
func isNetwork(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr)
}

// isTestFailure reports a presence patch (renewal or resignation) refused because a test
// operation failed: the record no longer names our node and incarnation. kube-apiserver
// answers 422 for it.
func isTestFailure(w election.Write, err error) bool {
	presence := w.Ref.Kind == election.KindNode && (w.Op == election.OpRenew || w.Op == election.OpRelease)
	return presence && apierrors.IsInvalid(err)
}

// Transient reports whether err is worth retrying soon (ClassTransient).
func Transient(err error) bool { return Classify(err) == election.ClassTransient }
