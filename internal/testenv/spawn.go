package testenv

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// StartChild starts cmd so that it is SIGKILLed when this process dies, and only then.
//
// Pdeathsig fires when the OS *thread* that forked the child exits, not the process. Go
// retires the thread of any goroutine that exits while locked to it (netns code does that),
// so a child forked from an ordinary goroutine can be killed mid-test when some unrelated
// locked goroutine ends on that thread. StartChild forks every child from one goroutine
// locked to its thread for the life of the process, so the signal means "the test binary
// (or lab) died". It also puts the child in its own process group (Setpgid) so the whole
// group can be killed.
func StartChild(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go spawner()
	})
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

// spawner runs for the life of the process on one locked thread: it must never return,
// or its thread would exit and take every child with it.
func spawner() {
	runtime.LockOSThread()
	for r := range spawnReqs {
		r.done <- r.cmd.Start()
	}
}
