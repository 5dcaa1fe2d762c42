//go:build !linux

package trino

import "syscall"

// sysProcAttr has no parent-death signal outside Linux; Stop must be called.
func sysProcAttr() *syscall.SysProcAttr { return nil }
