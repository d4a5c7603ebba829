//go:build !linux

package proctest

import "os/exec"

// dieWithTest does nothing where there is no Pdeathsig: the test's
// cleanup kills the process, unless the test process is killed first.
func dieWithTest(*exec.Cmd) {}
