package lab

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNS runs f in the named network namespace; sockets f opens stay there. f runs on a
// fresh goroutine locked to its OS thread, which is moved back to its own namespace and
// unlocked afterwards.
//
// Moving back instead of retiring the thread keeps threads reusable. (Children are forked by
// testenv.StartChild from a thread that is never retired, so a retired thread here would no
// longer kill them; it once killed kube-apiserver mid-lab.) Only when moving back fails is
// the thread retired.
func inNS(name string, f func() error) error {
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- enterAndRun(name, target, f)
	}()
	return <-errc
}

// enterAndRun runs f in target on the current, locked thread and moves the thread back.
// It unlocks the thread unless moving back failed.
func enterAndRun(name string, target netns.NsHandle, f func() error) error {
	home, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread() // not moved yet
		return fmt.Errorf("own network namespace: %w", err)
	}
	defer home.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread() // setns failed: the thread did not move
		return fmt.Errorf("enter network namespace %s: %w", name, err)
	}
	ferr := f()
	if err := netns.Set(home); err != nil {
		return fmt.Errorf("leave network namespace %s (thread retired): %w", name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}
