package npy

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Member is one array of an .npz written by WriteNPZMembers or read by
// ReadNPZMembers: exactly one of Float32 ('<f4'), Int32 ('<i4') and
// Unicode ('<U<n>', numpy's fixed-width unicode strings, which np.load
// reads without allow_pickle) holds its values, in C order.
type Member struct {
	Name    string
	Shape   []int
	Float32 []float32
	Int32   []int32
	Unicode []string
}

// values is the member's value count and its dtype.
func (m Member) kind() (n int, dt dtype, err error) {
	set := 0
	if m.Float32 != nil {
		set++
		n, dt = len(m.Float32), dtype{'<', 'f', 4}
	}
	if m.Int32 != nil {
		set++
		n, dt = len(m.Int32), dtype{'<', 'i', 4}
	}
	if m.Unicode != nil {
		set++
		width := 1
		for _, s := range m.Unicode {
			if !utf8.ValidString(s) {
				return 0, dtype{}, fmt.Errorf("npy: member %q: a string is not valid UTF-8", m.Name)
			}
			width = max(width, utf8.RuneCountInString(s))
		}
		n, dt = len(m.Unicode), dtype{'<', 'U', width}
	}
	if set != 1 {
		return 0, dtype{}, fmt.Errorf("npy: member %q: set exactly one of Float32, Int32 and Unicode", m.Name)
	}
	want, err := elemCount(m.Shape)
	if err != nil || want != n {
		return 0, dtype{}, fmt.Errorf("npy: member %q: shape %v for %d values", m.Name, m.Shape, n)
	}
	return n, dt, nil
}

// itemBytes is the size of one item of dt.
func itemBytes(dt dtype) int {
	if dt.kind == 'U' {
		return 4 * dt.size
	}
	return dt.size
}

// writeValues writes the member's data little-endian.
func (m Member) writeValues(w io.Writer, dt dtype) error {
	switch {
	case m.Float32 != nil:
		return writeData(w, m.Float32)
	case m.Int32 != nil:
		buf := make([]byte, 0, 4*min(len(m.Int32), convertChunk/4))
		for i, v := range m.Int32 {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
			if len(buf) == cap(buf) || i == len(m.Int32)-1 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		return nil
	}
	item := make([]byte, 4*dt.size)
	for _, s := range m.Unicode {
		clear(item)
		i := 0
		for _, r := range s {
			binary.LittleEndian.PutUint32(item[4*i:], uint32(r))
			i++
		}
		if _, err := w.Write(item); err != nil {
			return err
		}
	}
	return nil
}

// WriteNPZMembers writes an uncompressed .npz archive as numpy.savez does,
// one stored member per Member (name + ".npy"), with fixed timestamps so
// that equal members give equal files. Names must be distinct and
// non-empty. On error no file is left at path.
func WriteNPZMembers(path string, members []Member) (err error) {
	seen := map[string]bool{}
	for _, m := range members {
		if m.Name == "" || seen[m.Name] {
			return fmt.Errorf("npy: WriteNPZ: empty or repeated member name %q", m.Name)
		}
		seen[m.Name] = true
		if _, _, err := m.kind(); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	defer func() {
		if err == nil {
			err = f.Sync() // on disk before a caller renames it into place
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("npy: %w", cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	z := zip.NewWriter(f)
	for _, m := range members {
		if err := writeMember(z, m); err != nil {
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
func writeMember(z *zip.Writer, m Member) error {
	n, dt, err := m.kind()
	if err != nil {
		return err
	}
	head := headerBytesOf(dt.String(), m.Shape)
	crc := crc32.NewIEEE()
	crc.Write(head)
	if err := m.writeValues(crc, dt); err != nil {
		return err
	}
	size := uint64(len(head)) + uint64(n)*uint64(itemBytes(dt))
	fh := &zip.FileHeader{
		Name:               m.Name + ".npy",
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
	return m.writeValues(w, dt)
}

// ReadNPZMembers reads an uncompressed .npz (as numpy.savez and
// WriteNPZMembers write) whose members are little-endian float32, int32
// or fixed-width unicode arrays, in archive order; with names, only those
// members. Every declared size is checked against the member's bytes
// before anything is allocated.
func ReadNPZMembers(path string, names ...string) ([]Member, error) {
	f, z, size, err := openNPZFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Member
	seen := map[string]bool{}
	for _, zf := range z.File {
		name := strings.TrimSuffix(zf.Name, ".npy")
		if seen[name] {
			return nil, formatErr("%s: npz holds %q twice", path, clip(name))
		}
		seen[name] = true
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		m, err := readRawMember(zf, size)
		if err != nil {
			return nil, wrap(err, "%s: npz member %q", path, clip(zf.Name))
		}
		m.Name = name
		out = append(out, m)
	}
	return out, nil
}

// NPZShapes reads only the headers of an .npz's members: each member's
// shape by name (stored or deflated members alike).
func NPZShapes(path string) (map[string][]int, error) {
	f, z, _, err := openNPZFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]int{}
	for _, zf := range z.File {
		rc, err := zf.Open()
		if err != nil {
			return nil, formatErr("%s: npz member %q: cannot open: %v", path, clip(zf.Name), err)
		}
		h, err := readHeader(io.LimitReader(rc, 1<<20), -1)
		rc.Close()
		if err != nil {
			return nil, wrap(err, "%s: npz member %q", path, clip(zf.Name))
		}
		out[strings.TrimSuffix(zf.Name, ".npy")] = h.shape
	}
	return out, nil
}

// openNPZFile opens an .npz file's zip directory; the caller closes f.
func openNPZFile(path string) (f *os.File, z *zip.Reader, size int64, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("npy: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		size = st.Size()
		z, err = openNPZ(f, size)
	}
	if err != nil {
		f.Close()
		return nil, nil, 0, wrap(err, "%s", path)
	}
	return f, z, size, nil
}

func readRawMember(zf *zip.File, size int64) (Member, error) {
	if zf.Method != zip.Store || zf.UncompressedSize64 != zf.CompressedSize64 || zf.CompressedSize64 > uint64(size) {
		return Member{}, formatErr("only stored members of their stated size are read here (method %d)", zf.Method)
	}
	rc, err := zf.Open()
	if err != nil {
		return Member{}, formatErr("cannot open: %v", err)
	}
	defer rc.Close()
	total := int64(zf.UncompressedSize64)
	h, err := readHeader(io.LimitReader(rc, total), total)
	if err != nil {
		return Member{}, err
	}
	if h.fortran || h.dt.order == '>' {
		return Member{}, dtypeErr("fortran-ordered or big-endian %s: not read here", h.dt.name())
	}
	var item int
	switch {
	case h.dt.kind == 'f' && h.dt.size == 4, h.dt.kind == 'i' && h.dt.size == 4:
		item = 4
	case h.dt.kind == 'U' && h.dt.size >= 1:
		item = 4 * h.dt.size
	default:
		return Member{}, dtypeErr("unsupported dtype %s (want float32, int32 or unicode)", h.dt.name())
	}
	if int64(h.count) > (total-h.dataOff)/int64(item) || int64(h.count)*int64(item) != total-h.dataOff {
		return Member{}, truncErr("shape %v of %s does not match the member's %d data bytes", h.shape, h.dt.name(), total-h.dataOff)
	}
	data := make([]byte, int64(h.count)*int64(item))
	if _, err := io.ReadFull(rc, data); err != nil {
		return Member{}, ioErr(err, "the member's data")
	}
	m := Member{Shape: h.shape}
	switch {
	case h.dt.kind == 'f':
		m.Float32 = make([]float32, h.count)
		decodeChunk(m.Float32, data, dtype{'<', 'f', 4})
	case h.dt.kind == 'i':
		m.Int32 = make([]int32, h.count)
		for i := range m.Int32 {
			m.Int32[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
		}
	default:
		m.Unicode = make([]string, h.count)
		for i := range m.Unicode {
			var sb strings.Builder
			for j := 0; j < h.dt.size; j++ {
				r := rune(binary.LittleEndian.Uint32(data[(i*h.dt.size+j)*4:]))
				if r == 0 {
					break
				}
				if !utf8.ValidRune(r) {
					return Member{}, formatErr("string %d holds the invalid code point %#x", i, r)
				}
				sb.WriteRune(r)
			}
			m.Unicode[i] = sb.String()
		}
	}
	return m, nil
}
