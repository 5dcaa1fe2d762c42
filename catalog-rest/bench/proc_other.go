//go:build !linux

package bench

import "os/exec"

// dieWithParent does nothing here: a child catalog still stops when its
// stdin closes, but the reference JVM outlives a benchmark that dies.
func dieWithParent(*exec.Cmd) {}
