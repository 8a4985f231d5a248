package testdev

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/vkvgg/vkvgg/gpu"
)

// EnvLogOpens, set to 1, makes Open print each device it opens (counted
// over this helper's opens only, not a test's own gpu.Open calls) with
// what the process holds (open files, threads, memory) to stderr: the
// account to read when a driver refuses a device after many.
const EnvLogOpens = "VKVGG_LOG_OPENS"

var opens atomic.Int64

// logOpen prints the process's state before an Open when EnvLogOpens is 1.
func logOpen(test string) {
	if os.Getenv(EnvLogOpens) != "1" {
		return
	}
	fmt.Fprintf(os.Stderr, "testdev: helper's open %d (%s): %s\n", opens.Add(1), test, ProcState())
}

// ProcCounts is the process's open files and threads (-1 where /proc is
// not there).
func ProcCounts() (fds, threads int) {
	fds, threads, _ = proc()
	return fds, threads
}

// ProcState describes what the process holds: Vulkan instances (live,
// and made so far), open files, threads, virtual and resident memory.
func ProcState() string {
	fds, threads, mem := proc()
	return fmt.Sprintf("Vulkan instances %d live of %d made, open files %d, threads %d%s", gpu.LiveInstances(), gpu.MadeInstances(), fds, threads, mem)
}

// proc reads /proc/self once: open files, threads, and the VmSize and
// VmRSS lines (", VmSize: ... kB, VmRSS: ... kB").
func proc() (fds, threads int, mem string) {
	fds, threads = -1, -1
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				threads, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmSize:") {
				mem += ", " + strings.Join(strings.Fields(l), " ")
			}
		}
	}
	return fds, threads, mem
}
