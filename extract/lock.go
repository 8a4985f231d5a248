package extract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes DIR/.lock, so that two runs never write one folder; a
// lock left by a killed process is released by the kernel with it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("extract: another vkvgg extract is writing %s", dir)
		}
		return nil, fmt.Errorf("extract: locking %s: %w", dir, err)
	}
	return f, nil
}
