// Package fuzzcorpus reads the fuzz corpus this repository keeps in
// testdata/fuzz at its root (the files go test -fuzz writes, one []byte
// value each), so that every package's fuzz targets can seed from it, and
// makes the hostile inputs the readers' tests share (ZeroDeflate).
package fuzzcorpus

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"math/rand/v2"
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

// ZeroDeflate returns a raw deflate stream of prefix, noise random bytes
// and mib MiB of zero bytes (about 1 KB of stream per MiB), ending there
// with a final block if end is set, cut there if not. The zeros are one
// flushed segment repeated: each segment, byte-aligned and not final,
// inflates to 1 MiB of zeros copied from the zeros before it: a
// decompression bomb for the readers' tests.
func ZeroDeflate(t testing.TB, prefix []byte, noise, mib int, end bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	fw.Write(prefix)
	rng := rand.New(rand.NewPCG(1, 2))
	for range noise {
		fw.Write([]byte{byte(rng.Uint32())})
	}
	fw.Write(zeros)
	fw.Flush()
	out := bytes.Clone(buf.Bytes())
	buf.Reset()
	fw.Write(zeros)
	fw.Flush()
	seg := bytes.Clone(buf.Bytes())
	buf.Reset()
	for range mib - 1 {
		out = append(out, seg...)
	}
	if end {
		fw.Close()
		out = append(out, buf.Bytes()...)
	}
	return out
}
