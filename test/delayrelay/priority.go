package delayrelay

import (
	"runtime"
	"syscall"
)

// relayNice is the scheduling priority of the relay's threads: a delay is only as exact
// as the moment the relay gets the CPU back, and on a small machine the clusters and
// compilers around it would otherwise add milliseconds to the injected delay.
const relayNice = -10

// highPriorityThread pins the calling goroutine to its own OS thread for good (the thread
// ends with the goroutine) and raises that thread's priority. Without the privilege to
// raise it (not root) the relay still works, only less exactly under load.
func highPriorityThread() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), relayNice)
}
