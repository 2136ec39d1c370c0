package delayrelay

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// A delay is only as exact as the moment the relay gets the CPU back: on a small machine
// the clusters and compilers around it would otherwise add milliseconds to the injected
// delay. The relay's threads therefore ask for real-time scheduling (they are idle but
// for a few datagrams a second, so they cannot starve anything), or failing that a
// raised priority.
const (
	realtimePriority = 10
	relayNice        = -10
)

// highPriorityThread pins the calling goroutine to its own OS thread for good (the thread
// ends with the goroutine) and raises that thread's priority. Without the privilege (not
// root) the relay still works, only less exactly under load.
func highPriorityThread() {
	runtime.LockOSThread()
	tid := unix.Gettid()
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: realtimePriority}
	if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, relayNice)
	}
}
