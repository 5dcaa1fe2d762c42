package host

import (
	"os/exec"
	"syscall"
)

// dieWithHost has the kernel kill the plugin when the host process dies, in
// addition to the SDK's own watch of its parent.
func dieWithHost(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
