package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a server when the benchmark dies
// without stopping it (a panic, a kill -9).
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
