//go:build !linux

package pgtest

import "os/exec"

// canSwitchUser is false off Linux: serverUser refuses to run as root there.
const canSwitchUser = false

func runAs(*exec.Cmd, *osUser) {}

// dieWithParent is a no-op off Linux: a test process that dies without
// calling stop leaves the server running.
func dieWithParent(*exec.Cmd) {}
