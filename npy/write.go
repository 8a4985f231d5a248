package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
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
func WriteNPZ(path string, names []string, arrays []Array) error {
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
	members := make([]Member, len(names))
	for i, name := range names {
		members[i] = Member{Name: name, Shape: arrays[i].Shape, Float32: arrays[i].Data}
		if members[i].Float32 == nil {
			members[i].Float32 = []float32{}
		}
	}
	return WriteNPZMembers(path, members)
}
