package npy

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"time"
)

// check reports whether a's Shape and Data agree.
func (a Array) check() error {
	for _, d := range a.Shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", a.Shape)
		}
	}
	n, err := elemCount(a.Shape)
	if err != nil {
		return fmt.Errorf("npy: shape %v is too large", a.Shape)
	}
	if n != len(a.Data) {
		return fmt.Errorf("npy: shape %v needs %d elements, Data has %d", a.Shape, n, len(a.Data))
	}
	return nil
}

// WriteNPY writes a as an .npy file (format 1.0, '<f4', C order) that
// numpy.load reads.
func WriteNPY(w io.Writer, a Array) error {
	if err := a.check(); err != nil {
		return err
	}
	if _, err := w.Write(headerBytes(a.Shape)); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := writeData(w, a.Data); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// writeData writes f little-endian.
func writeData(w io.Writer, f []float32) error {
	if nativeLE {
		_, err := w.Write(float32Bytes(f))
		return err
	}
	buf := make([]byte, convertChunk)
	for len(f) > 0 {
		k := min(len(f), convertChunk/4)
		for i, v := range f[:k] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*k]); err != nil {
			return err
		}
		f = f[k:]
	}
	return nil
}

// npzTime is the modification time of every member WriteNPZ writes, so that
// equal arrays give equal files.
var npzTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// WriteNPZ writes an uncompressed .npz archive, as numpy.savez does: member
// names[i]+".npy" holds arrays[i]. numpy.load(path)[names[i]] reads it back.
// Names must be distinct and non-empty. On error no file is left at path.
func WriteNPZ(path string, names []string, arrays []Array) (err error) {
	if len(names) != len(arrays) {
		return fmt.Errorf("npy: WriteNPZ: %d names for %d arrays", len(names), len(arrays))
	}
	seen := map[string]bool{}
	for i, name := range names {
		if name == "" {
			return errors.New("npy: WriteNPZ: empty array name")
		}
		if seen[name] {
			return fmt.Errorf("npy: WriteNPZ: name %q given twice", name)
		}
		seen[name] = true
		if err := arrays[i].check(); err != nil {
			return fmt.Errorf("npy: WriteNPZ: array %q: %w", name, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("npy: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	z := zip.NewWriter(f)
	for i, name := range names {
		if err := writeMember(z, name+".npy", arrays[i]); err != nil {
			return fmt.Errorf("npy: WriteNPZ %s: %w", path, err)
		}
	}
	if err := z.Close(); err != nil {
		return fmt.Errorf("npy: WriteNPZ %s: %w", path, err)
	}
	return nil
}

// writeMember writes a stored member with its size and CRC in the local
// header (no data descriptor), computed in a first pass over the data.
func writeMember(z *zip.Writer, name string, a Array) error {
	head := headerBytes(a.Shape)
	crc := crc32.NewIEEE()
	crc.Write(head)
	if err := writeData(crc, a.Data); err != nil {
		return err
	}
	size := uint64(len(head)) + 4*uint64(len(a.Data))
	fh := &zip.FileHeader{
		Name:               name,
		Method:             zip.Store,
		Modified:           npzTime,
		CRC32:              crc.Sum32(),
		CompressedSize64:   size,
		UncompressedSize64: size,
	}
	w, err := z.CreateRaw(fh)
	if err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	return writeData(w, a.Data)
}
