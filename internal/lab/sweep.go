package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// StateDir holds one pid file per running lab (<tag>.pid: "pid starttime") and the lock
// that serialises the choice of management networks.
const StateDir = "/run/vipkeeper-lab"

// procStart returns the start time of process pid (field 22 of /proc/pid/stat, in clock
// ticks since boot), which tells a live owner from a reused pid.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return "", fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return f[19], nil
}

// writePidFile records this process as the owner of the lab with tag.
func writePidFile(dir, tag string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab state dir: %w", err)
	}
	start, err := procStart(os.Getpid())
	if err != nil {
		return fmt.Errorf("own start time: %w", err)
	}
	line := fmt.Sprintf("%d %s\n", os.Getpid(), start)
	return os.WriteFile(filepath.Join(dir, tag+".pid"), []byte(line), 0o644)
}

// ownerAlive reports whether the process named in a pid file still runs.
func ownerAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return true // being written, or already swept by someone else: leave it
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return false
	}
	start, err := procStart(pid)
	return err == nil && start == f[1]
}

// lockState takes the exclusive lock of the state dir.
func lockState(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// Sweep removes what labs whose owning process is dead left behind (a SIGKILLed
// `vipkeeper-lab` or test binary): namespaces, host interfaces, processes in those
// namespaces, temp dirs and pid files. Labs whose owner runs are not touched; Start calls it.
func Sweep(ctx context.Context) error {
	return sweepIn(ctx, StateDir)
}

func sweepIn(ctx context.Context, dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, Prefix+"*.pid"))
	var errs []error
	for _, f := range files {
		if ownerAlive(f) {
			continue
		}
		tag := strings.TrimSuffix(filepath.Base(f), ".pid")
		errs = append(errs, removeTag(ctx, tag))
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeTag removes the network objects and temp dirs of the lab with tag.
func removeTag(ctx context.Context, tag string) error {
	errs := []error{removeByTag(ctx, tag)}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tag+"-*"))
	for _, d := range dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}
