package lease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

var leases = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func TestClassify_MapsClientGoErrorsToClasses(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Put", URL: "https://127.0.0.1:6443/apis", Err: err} }
	tests := []struct {
		name string
		err  error
		want election.ErrClass
	}{
		{"nil", nil, election.ClassNone},
		{"409 conflict", apierrors.NewConflict(leases, "vipkeeper-198-51-100-7", errors.New("modified")), election.ClassConflict},
		{"create raced", apierrors.NewAlreadyExists(leases, "vipkeeper-198-51-100-7"), election.ClassConflict},
		{"404", apierrors.NewNotFound(leases, "vipkeeper-198-51-100-7"), election.ClassNotFound},
		{"504 timeout (etcd frozen)", apierrors.NewTimeoutError("request did not complete within requested timeout", 0), election.ClassTransient},
		{"server timeout", apierrors.NewServerTimeout(leases, "update", 1), election.ClassTransient},
		{"etcd request timed out (500)", apierrors.NewInternalError(errors.New("etcdserver: request timed out")), election.ClassTransient},
		{"429", apierrors.NewTooManyRequests("slow down", 1), election.ClassTransient},
		{"503", apierrors.NewServiceUnavailable("etcd"), election.ClassTransient},
		{"other 5xx", apierrors.NewGenericServerResponse(502, "update", leases, "x", "bad gateway", 0, true), election.ClassTransient},
		{"context deadline", fmt.Errorf("renew: %w", context.DeadlineExceeded), election.ClassTransient},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), election.ClassTransient},
		{"connection reset", urlErr(syscall.ECONNRESET), election.ClassTransient},
		{"eof", urlErr(io.EOF), election.ClassTransient},
		{"401", apierrors.NewUnauthorized("token expired"), election.ClassPermanent},
		{"403", apierrors.NewForbidden(leases, "x", errors.New("RBAC")), election.ClassPermanent},
		{"400", apierrors.NewBadRequest("bad"), election.ClassPermanent},
		{"422", apierrors.NewInvalid(schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"}, "x", nil), election.ClassPermanent},
		{"unknown error is never fatal", errors.New("something odd"), election.ClassTransient},
		{"wrapped 403 stays permanent", fmt.Errorf("renew lease ns/x: %w", apierrors.NewForbidden(leases, "x", errors.New("RBAC"))), election.ClassPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
