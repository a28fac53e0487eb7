package cairntest

import "syscall"

// sysProcAttr makes the kernel kill a child when the test binary dies (for
// example on a test timeout), so no member outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
