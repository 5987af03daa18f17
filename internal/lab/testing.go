package lab

import (
	"errors"
	"os"
	"testing"

	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// StartTest starts a lab for a test and closes it in t.Cleanup, logging the tail of each
// daemon's log first when the test failed. It skips the test when not root or without
// iproute2, and when the control-plane or daemon binaries are missing and $CI is unset
// (with $CI set, missing binaries fail the test).
func StartTest(t testing.TB, cfg Config) *Lab {
	t.Helper()
	l, err := Start(t.Context(), cfg)
	switch {
	case errors.Is(err, ErrNotRoot):
		t.Skipf("no lab: %v", err)
	case missing(err) && os.Getenv("CI") == "":
		t.Skipf("no lab: %v; build with `bash hack/build.sh` and `make build`", err)
	case err != nil:
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() { CloseTest(t, l) })
	return l
}

func missing(err error) bool {
	return errors.Is(err, testenv.ErrBinariesMissing) || errors.Is(err, ErrDaemonMissing)
}

// CloseTest closes l for test t: when t failed it first logs each daemon's log tail and
// state; a teardown error fails t.
func CloseTest(t testing.TB, l *Lab) {
	t.Helper()
	if t.Failed() {
		for _, n := range append(l.Nodes(), l.Controller()) {
			t.Logf("%s (%s), last lines of %s:\n%s", n.Name(), n.State(), n.LogPath(), n.LogTail(40))
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("close lab %s: %v", l.ID(), err)
	}
}
