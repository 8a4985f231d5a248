package graph

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// hostMemory is the memory this process may use: the machine's
// (MemTotal of /proc/meminfo), or less when a cgroup limits it (a
// container), or 8 GiB where nothing can be read.
func hostMemory() int64 {
	m := machineMemory()
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && v < m {
			m = v
		}
	}
	return m
}

// machineMemory is MemTotal of /proc/meminfo, or 8 GiB.
func machineMemory() int64 {
	const fallback = 8 << 30
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallback
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil && kb > 0 {
				return kb << 10
			}
		}
	}
	return fallback
}
