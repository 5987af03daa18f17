package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// One lab (3 nodes, fast timing) is shared by the tests of this package; each test uses
// its own Services and VIPs. TestLab_CloseLeavesNothingBehind closes it; a later test
// starts a new one.
var shared struct {
	mu     sync.Mutex
	lab    *Lab
	binDir string // temp dir of the daemon binary built for this run
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.lab != nil {
		if err := shared.lab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close shared lab:", err)
			code = 1
		}
	}
	if shared.binDir != "" {
		os.RemoveAll(shared.binDir)
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// sharedLab returns the package's lab, starting it if needed, or skips t (not root,
// binaries missing without $CI).
func sharedLab(t *testing.T) *Lab {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.lab != nil {
		return shared.lab
	}
	if err := checkHost(); err != nil {
		t.Skipf("no lab: %v", err)
	}
	bin, err := daemonBin()
	if err != nil {
		t.Fatalf("daemon binary: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := Start(ctx, Config{Nodes: 3, Timing: FastTiming, DaemonBin: bin})
	switch {
	case missing(err) && os.Getenv("CI") == "":
		t.Skipf("no lab: %v; build with `bash hack/build.sh`", err)
	case err != nil:
		t.Fatalf("start lab: %v", err)
	}
	if err := l.WaitReady(ctx); err != nil {
		CloseTest(t, l)
		t.Fatalf("lab daemons: %v", err)
	}
	shared.lab = l
	return l
}

// daemonBin is $VIPKEEPER_DAEMON_BIN, or the current vipkeeper built once into a temp
// dir, so the tests run the code under test and not a stale bin/vipkeeper.
func daemonBin() (string, error) {
	if p := os.Getenv("VIPKEEPER_DAEMON_BIN"); p != "" {
		return p, nil
	}
	if shared.binDir != "" {
		return filepath.Join(shared.binDir, "vipkeeper"), nil
	}
	dir, err := os.MkdirTemp("", "vipkeeper-lab-bin-")
	if err != nil {
		return "", err
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		gobin = p
	}
	bin := filepath.Join(dir, "vipkeeper")
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/vipkeeper/vipkeeper/cmd/vipkeeper").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	shared.binDir = dir
	return bin, nil
}

// closeShared closes the shared lab (starting it first if no test did) and returns it.
func closeShared(t *testing.T) (*Lab, error) {
	t.Helper()
	l := sharedLab(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.lab = nil
	return l, l.Close()
}

// waitUntil polls cond every 100ms until it holds or limit passes; it reports whether it held.
func waitUntil(t *testing.T, limit time.Duration, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || t.Context().Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

var errNoAnswer = errors.New("no single stable answer")
