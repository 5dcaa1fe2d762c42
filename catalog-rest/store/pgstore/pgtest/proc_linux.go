package pgtest

import (
	"os/exec"
	"syscall"
)

// canSwitchUser tells serverUser that root can run the server as postgres.
const canSwitchUser = true

// runAs makes cmd run as u (nil: as the current user).
func runAs(cmd *exec.Cmd, u *osUser) {
	if u == nil {
		return
	}
	attrs(cmd).Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
}

// dieWithParent has the kernel send the server SIGQUIT (immediate shutdown)
// when the test process dies without calling stop: a panic or a -timeout.
func dieWithParent(cmd *exec.Cmd) {
	attrs(cmd).Pdeathsig = syscall.SIGQUIT
}

func attrs(cmd *exec.Cmd) *syscall.SysProcAttr {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	return cmd.SysProcAttr
}
