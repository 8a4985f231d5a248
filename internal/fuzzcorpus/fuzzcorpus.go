// Package fuzzcorpus reads the fuzz corpus this repository keeps in
// testdata/fuzz at its root (the files go test -fuzz writes, one []byte
// value each), so that every package's fuzz targets can seed from it.
package fuzzcorpus

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Add seeds f with every file in dir; a missing dir adds nothing.
func Add(f *testing.F, dir string) {
	f.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := Read(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatalf("%s: %v", e.Name(), err)
		}
		f.Add(b)
	}
}

// Read reads one corpus file written by go test -fuzz for a target
// that takes a single []byte.
func Read(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 64<<20)
	if !sc.Scan() || sc.Text() != "go test fuzz v1" {
		return nil, errors.New("not a go test fuzz v1 file")
	}
	if !sc.Scan() {
		return nil, errors.New("no value")
	}
	line := strings.TrimSpace(sc.Text())
	if !strings.HasPrefix(line, "[]byte(") || !strings.HasSuffix(line, ")") {
		return nil, errors.New("value is not a []byte")
	}
	s, err := strconv.Unquote(line[len("[]byte(") : len(line)-1])
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}
