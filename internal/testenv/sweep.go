package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	dirPattern = "vipkeeper-testenv-"
	ownerFile  = "owner.pid"
)

// makeDir creates the temp dir of a new Env and records the owning test binary in it.
// Its children die with a test binary killed by -timeout or a signal (Pdeathsig), but its
// dir stays behind; sweepStale removes such dirs at the next start.
func makeDir() (string, error) {
	sweepStale()
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return "", err
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(filepath.Join(dir, ownerFile), pid, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// sweepStale removes the temp dirs of Envs whose test binary no longer exists.
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or being created right now
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}
