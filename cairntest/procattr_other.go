//go:build !linux

package cairntest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
