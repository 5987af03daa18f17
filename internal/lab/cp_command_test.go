package lab

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Without --daemon-bin the flags leave the binary to resolveCPFiles, which finds
// bin/vipkeeper, never the lab's own executable (since the lab is its own command, CPMain
// defaulted to os.Executable(), vipkeeper-lab, and every announcer exited 2). CPMain itself
// starts a lab and is not called here; it passes the parsed flags on unchanged.
func TestCPCommand_RunsTheVipkeeperBinaryByDefault(t *testing.T) {
	t.Setenv("VIPKEEPER_DAEMON_BIN", "")
	o, err := parseCPFlags("vipkeeper-lab control-plane", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	err = resolveCPFiles(&o.cfg)
	if errors.Is(err, ErrDaemonMissing) && os.Getenv("CI") == "" {
		t.Skipf("no bin/vipkeeper: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	if got := filepath.Base(o.cfg.DaemonBin); got != "vipkeeper" || o.cfg.DaemonBin == self {
		t.Errorf("daemon binary %s, want bin/vipkeeper", o.cfg.DaemonBin)
	}
}
