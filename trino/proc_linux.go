package trino

import "syscall"

// sysProcAttr puts Trino in its own process group, so a terminal's Ctrl-C
// reaches only us and we stop Trino in order, and asks the kernel to send
// SIGTERM to Trino when we die, so a crashed or killed parent never leaves
// an orphaned JVM holding the port.
//
// Pdeathsig fires when the OS thread that forked the child exits, not the
// process. The Go runtime does not retire threads except when a goroutine
// exits while locked with runtime.LockOSThread, which this package never
// does around Start.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
