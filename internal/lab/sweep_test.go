package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if err := checkHost(); err != nil {
		t.Skipf("needs root and iproute2: %v", err)
	}
}

// leftovers fakes what a SIGKILLed lab leaves: a namespace with a process in it, a host
// interface, a temp dir and a pid file naming ownerPid (start time start).
// The returned channel is closed once that process has exited.
func leftovers(t *testing.T, stateDir string, ownerPid int, start string) (tag string, exited <-chan struct{}) {
	t.Helper()
	tag = Prefix + newID()
	ns := tag + "-node-1"
	t.Cleanup(func() { _ = removeTag(context.Background(), tag) }) // in case Sweep fails
	for _, args := range [][]string{{"netns", "add", ns}, {"link", "add", tag, "type", "bridge"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	sleeper := exec.Command("ip", "netns", "exec", ns, "sleep", "60")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = sleeper.Wait(); close(done) }()
	t.Cleanup(func() { _ = sleeper.Process.Kill(); <-done })
	if err := os.Mkdir(filepath.Join(os.TempDir(), tag+"-x"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%d %s\n", ownerPid, start)
	if err := os.WriteFile(filepath.Join(stateDir, tag+".pid"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return tag, done
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

func TestSweep_RemovesWhatADeadLabLeftAndSparesALiveOne(t *testing.T) {
	needRoot(t)
	stateDir := t.TempDir()
	deadTag, sleeperGone := leftovers(t, stateDir, deadPid(t), "1")
	myStart, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	liveTag, _ := leftovers(t, stateDir, os.Getpid(), myStart)
	// Our own pid with another start time: the owner died and its pid was reused.
	reusedTag, _ := leftovers(t, stateDir, os.Getpid(), myStart+"0")

	if err := sweepIn(t.Context(), stateDir); err != nil {
		t.Errorf("sweep: %v", err)
	}
	for _, tag := range []string{deadTag, reusedTag} {
		if left := present(t, stateDir, tag); len(left) > 0 {
			t.Errorf("%s (dead owner) after Sweep still has %v", tag, left)
		}
	}
	if left := present(t, stateDir, liveTag); len(left) != 4 {
		t.Errorf("%s (live owner) after Sweep has only %v, want all four left alone", liveTag, left)
	}
	select {
	case <-sleeperGone:
	case <-time.After(10 * time.Second):
		t.Error("the process in the dead lab's namespace still runs 10s after Sweep")
	}
}

// present lists which of a tag's four leftovers exist.
func present(t *testing.T, stateDir, tag string) []string {
	t.Helper()
	var out []string
	if nss := namespaces(tag + "-"); len(nss) > 0 {
		out = append(out, "namespace")
	}
	if links, _ := exec.Command("ip", "-o", "link", "show", "dev", tag).Output(); strings.Contains(string(links), tag) {
		out = append(out, "interface")
	}
	if dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tag+"-*")); len(dirs) > 0 {
		out = append(out, "temp dir")
	}
	if _, err := os.Stat(filepath.Join(stateDir, tag+".pid")); !errors.Is(err, os.ErrNotExist) {
		out = append(out, "pid file")
	}
	return out
}
