package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ErrBinariesMissing means bin/etcd or bin/kube-apiserver could not be found.
var ErrBinariesMissing = errors.New("control-plane binaries missing")

const modulePath = "github.com/vipkeeper/vipkeeper"

type binaries struct{ etcd, apiserver string }

// findBinaries looks in dir, else in $VIPKEEPER_BIN, else in bin/ of the repository root
// above the working directory.
func findBinaries(dir string) (binaries, error) {
	if dir == "" {
		dir = os.Getenv("VIPKEEPER_BIN")
	}
	if dir == "" {
		d, err := repoBinDir()
		if err != nil {
			return binaries{}, err
		}
		dir = d
	}
	b := binaries{etcd: filepath.Join(dir, "etcd"), apiserver: filepath.Join(dir, "kube-apiserver")}
	for _, p := range []string{b.etcd, b.apiserver} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return binaries{}, fmt.Errorf("%w: %s is not an executable file", ErrBinariesMissing, p)
		}
	}
	return b, nil
}

// repoBinDir walks up from the working directory to the go.mod of this module.
func repoBinDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: working directory: %w", ErrBinariesMissing, err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if declaresModule(filepath.Join(dir, "go.mod"), modulePath) {
			return filepath.Join(dir, "bin"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("%w: no go.mod of module %s above %s", ErrBinariesMissing, modulePath, wd)
		}
	}
}

// declaresModule reports whether the go.mod at path declares exactly the module mod
// (hack/etcd/go.mod declares a submodule and must not match).
func declaresModule(path, mod string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == mod
		}
	}
	return false
}

// skipOrFail ends the test when a control plane could not start: it skips when only the
// binaries are missing and $CI is unset, and fails otherwise.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrBinariesMissing) && os.Getenv("CI") == "" {
		t.Skipf("no control plane: %v; build it with `make bins` (bash hack/build.sh)", err)
	}
	t.Fatalf("start control plane: %v", err)
}
