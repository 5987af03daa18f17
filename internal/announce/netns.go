package announce

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// openNS opens the namespace at path, or returns netns.None() for "" (the
// caller's namespace, production's case).
func openNS(path string) (netns.NsHandle, error) {
	if path == "" {
		return netns.None(), nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("network namespace %s: %w", path, err)
	}
	return ns, nil
}

// inNS runs f in namespace ns; sockets f opens stay in ns. With no ns it
// simply calls f. Otherwise f runs on a fresh goroutine whose OS thread is
// locked and never unlocked: when the goroutine ends the runtime retires the
// thread, so no other goroutine can ever run in the wrong namespace.
func inNS(ns netns.NsHandle, f func() error) error {
	if !ns.IsOpen() {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
