package npy

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// Array is a host array converted to float32, in C order.
type Array struct {
	// Shape holds the dimensions; nil or empty for a scalar.
	Shape []int
	// Data holds the product of Shape elements, last dimension fastest.
	Data []float32
}

// Layer is one layer's parameters: its weights W and biases B, as stored
// (tensorflow-vgg: conv W of shape (3, 3, in, out), fc W (in, out), B (out)).
type Layer struct {
	W, B Array
}

// ShapeCheck judges an array of a weight file before its data is read:
// layer is the layer's name ("fc6"), which is 0 for the weights W and 1 for
// the biases b, shape is the shape the file declares. An error refuses the
// file: ReadWeightsChecked returns it wrapped, matching both ErrFormat and
// the error itself.
type ShapeCheck func(layer string, which int, shape []int) error

// ReadWeights reads a tensorflow-vgg weight file: an .npy holding a pickled
// dict of layers (vgg16.npy, vgg19.npy), or an .npz with one array per
// layer_W / layer_b or layer/0 / layer/1 member. The format is detected from
// the first bytes, not from the file name.
func ReadWeights(path string) (map[string]Layer, error) {
	return ReadWeightsChecked(path, nil)
}

// ReadWeightsChecked reads a weight file as ReadWeights does and calls
// check, unless it is nil, with every array's declared shape before that
// array's data is read or any memory is set aside for it: a caller that
// knows what shapes it can use refuses a file that declares others at the
// cost of reading its headers. In a pickled .npy every shape is checked
// before any array is read; in an .npz each member's shape is checked once
// its npy header has been read (and, if deflated, inflated), before its
// data.
func ReadWeightsChecked(path string, check ShapeCheck) (map[string]Layer, error) {
	return decodeFile(path, func(f *os.File, size int64) (map[string]Layer, error) { return DecodeWeightsChecked(f, size, check) })
}

// decodeFile opens path and runs decode on it, naming the file in errors.
func decodeFile[T any](path string, decode func(f *os.File, size int64) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return zero, fmt.Errorf("npy: %w", err)
	}
	v, err := decode(f, fi.Size())
	if err != nil {
		return zero, wrap(err, "%s", path)
	}
	return v, nil
}

// DecodeWeights reads the weight file of ReadWeights from the size bytes of
// r. Large arrays are read straight from r into their float32 storage, so the
// memory held at the end is about the data's float32 size.
func DecodeWeights(r io.ReaderAt, size int64) (map[string]Layer, error) {
	return DecodeWeightsChecked(r, size, nil)
}

// DecodeWeightsChecked reads the weight file of ReadWeightsChecked from the
// size bytes of r, checking every declared shape with check (if not nil)
// before the array's data is read.
func DecodeWeightsChecked(r io.ReaderAt, size int64, check ShapeCheck) (map[string]Layer, error) {
	layers, err := decodeWeights(r, size, check)
	if err != nil {
		return nil, err
	}
	return layers, nil
}

// readHead reads the first bytes of a file of size bytes into buf, as many
// as the file has up to len(buf), to tell its format by.
func readHead(r io.ReaderAt, size int64, buf []byte) ([]byte, error) {
	if size < 0 {
		return nil, formatErr("negative input size %d", size)
	}
	want := int(min(int64(len(buf)), size))
	n, err := r.ReadAt(buf[:want], 0)
	if n < want {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, ioErr(err, "the first bytes")
	}
	return buf[:n], nil
}

func decodeWeights(r io.ReaderAt, size int64, check ShapeCheck) (map[string]Layer, error) {
	var head [8]byte
	hb, err := readHead(r, size, head[:])
	if err != nil {
		return nil, err
	}
	h := string(hb)
	n := len(hb)
	switch {
	case strings.HasPrefix(h, magic):
		return decodePickledNPY(r, size, check)
	case strings.HasPrefix(h, "PK\x03\x04"), strings.HasPrefix(h, "PK\x05\x06"):
		return decodeNPZ(r, size, check)
	case strings.HasPrefix(h, "\x80"):
		// A bare pickle (pickle.dump of the dict), as some converters write.
		return decodePickle(r, 0, size, check)
	case n == 0:
		return nil, truncErr("truncated: empty input")
	case n < len(magic) && strings.HasPrefix(magic, h):
		return nil, truncErr("truncated: the input holds only %d bytes of the npy magic", n)
	}
	return nil, formatErr("not an npy or npz file: it starts with %q", h)
}

func decodePickledNPY(r io.ReaderAt, size int64, check ShapeCheck) (map[string]Layer, error) {
	h, err := readHeader(io.NewSectionReader(r, 0, size), size)
	if err != nil {
		return nil, err
	}
	if h.dt.kind != 'O' {
		return nil, formatErr("the npy file holds one %s array of shape %v, not a pickled dict of layers (read it with ReadNPY)",
			h.dt.name(), h.shape)
	}
	return decodePickle(r, h.dataOff, size, check)
}

func decodePickle(r io.ReaderAt, off, size int64, check ShapeCheck) (map[string]Layer, error) {
	obj, err := unpickle(r, off, size)
	if err != nil {
		return nil, err
	}
	d, err := layerDict(obj)
	if err != nil {
		return nil, err
	}
	raw := map[string][2]*pyArray{}
	for i, k := range d.keys {
		name, ok := text(k)
		if !ok {
			return nil, formatErr("layer name is %s, not a str", aType(k))
		}
		w, b, err := layerEntry(d.vals[i])
		if err != nil {
			return nil, wrap(err, "layer %q", name)
		}
		raw[name] = [2]*pyArray{w, b}
	}
	// Every shape is checked before any array is read.
	if check != nil {
		for _, name := range sortedKeys(raw) {
			for j, a := range raw[name] {
				if err := check(name, j, append([]int(nil), a.shape...)); err != nil {
					return nil, refused(err, "layer %q %s of shape %v refused", clip(name), [2]string{"W", "b"}[j], a.shape)
				}
			}
		}
	}
	// Materialise layer by layer. An array shared between entries is read
	// once; the output may not exceed what the input can hold (float16 data
	// doubles), whatever the memo sharing.
	budget := 2*size + 1<<20
	done := map[*pyArray]Array{}
	out := make(map[string]Layer, len(raw))
	for _, name := range sortedKeys(raw) {
		var l Layer
		for j, a := range raw[name] {
			arr, ok := done[a]
			if !ok {
				if err := a.dt.checkFloat(); err != nil {
					return nil, wrap(err, "layer %q %s", name, [2]string{"W", "b"}[j])
				}
				if budget -= 4 * int64(a.count); budget < 0 {
					return nil, formatErr("the pickle's arrays add up to more data than the input holds (arrays shared too often)")
				}
				if arr, err = a.toArray(r); err != nil {
					return nil, wrap(err, "layer %q %s", name, [2]string{"W", "b"}[j])
				}
				done[a] = arr
			}
			if j == 0 {
				l.W = arr
			} else {
				l.B = arr
			}
		}
		out[name] = l
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// layerDict finds the dict of layers in what the pickle made: np.save wraps
// it in a 0-d object array.
func layerDict(obj any) (*pyDict, error) {
	if a, ok := obj.(*pyArray); ok && a.built && a.dt.kind == 'O' {
		if len(a.objs) != 1 {
			return nil, formatErr("the pickled object array has shape %v, want a single dict", a.shape)
		}
		obj = a.objs[0]
	}
	d, ok := obj.(*pyDict)
	if !ok {
		return nil, formatErr("the pickle holds %s, not a dict of layers", aType(obj))
	}
	if len(d.keys) == 0 {
		return nil, formatErr("the pickled dict holds no layers")
	}
	return d, nil
}

// layerEntry returns W and b of one layer's value: [W, b], (W, b),
// {0: W, 1: b} or {'weights': W, 'biases': b}.
func layerEntry(v any) (w, b *pyArray, err error) {
	const want = "want [W, b], (W, b), {0: W, 1: b} or {'weights': W, 'biases': b}"
	var items []any
	switch v := v.(type) {
	case *pyList:
		items = v.items
	case pyTuple:
		items = v
	case *pyDict:
		pairs := [][2]dictKey{
			{{kind: 'i', i: 0}, {kind: 'i', i: 1}},
			{{kind: 's', s: "weights"}, {kind: 's', s: "biases"}},
		}
		for _, p := range pairs {
			x, ok1 := v.get(p[0])
			y, ok2 := v.get(p[1])
			if ok1 && ok2 {
				items = []any{x, y}
				break
			}
		}
		if items == nil {
			keys := make([]string, 0, len(v.keys))
			for _, k := range v.keys {
				if s, ok := text(k); ok {
					keys = append(keys, fmt.Sprintf("%q", clip(s)))
				} else {
					keys = append(keys, fmt.Sprint(k))
				}
				if len(keys) == 8 {
					keys = append(keys, "...")
					break
				}
			}
			return nil, nil, formatErr("entry is a dict with keys [%s], %s", strings.Join(keys, ", "), want)
		}
	default:
		return nil, nil, formatErr("entry is %s, %s", aType(v), want)
	}
	if len(items) != 2 {
		return nil, nil, formatErr("entry is %s, %s", aType(v), want)
	}
	var out [2]*pyArray
	for i, x := range items {
		a, ok := x.(*pyArray)
		if !ok || !a.built {
			return nil, nil, formatErr("%s is %s, not an array", [2]string{"W", "b"}[i], aType(x))
		}
		out[i] = a
	}
	return out[0], out[1], nil
}

// toArray reads a built numeric array's data into float32s.
func (a *pyArray) toArray(r io.ReaderAt) (Array, error) {
	if err := a.dt.checkFloat(); err != nil {
		return Array{}, err
	}
	if err := a.checkData(); err != nil {
		return Array{}, err
	}
	data := make([]float32, a.count)
	what := fmt.Sprintf("array data (%d bytes)", a.raw.n)
	if a.raw.inFile {
		what = fmt.Sprintf("array data (%d bytes at offset %d)", a.raw.n, a.raw.off)
	}
	if err := readFloats(a.raw.open(r), data, a.dt, what); err != nil {
		return Array{}, err
	}
	if a.fortran {
		data = fortranToC(data, a.shape)
	}
	return Array{Shape: append([]int{}, a.shape...), Data: data}, nil
}

// ReadNPY reads one .npy array of float16, float32 or float64 and returns
// it as float32 in C order (Fortran-order files are rearranged). If r is an
// *os.File, *bytes.Reader, *strings.Reader, *io.SectionReader or any reader
// with a Len method, the data is read straight into the result; from other
// readers it is read in growing chunks, so that a header cannot make
// ReadNPY allocate more than the stream delivers.
func ReadNPY(r io.Reader) (Array, error) {
	n := remaining(r)
	return readNPY(r, n, n)
}

// ReadNPYFile reads the .npy file at path, as ReadNPY.
func ReadNPYFile(path string) (Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return Array{}, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	a, err := ReadNPY(f)
	if err != nil {
		return Array{}, wrap(err, "%s", path)
	}
	return a, nil
}

// remaining returns how many bytes r has left, or -1 if it cannot tell.
func remaining(r io.Reader) int64 {
	switch r := r.(type) {
	case interface{ Len() int }:
		return int64(r.Len())
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return max(fi.Size()-pos, 0)
	case *io.SectionReader:
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return max(r.Size()-pos, 0)
	}
	return -1
}

// readNPY reads an .npy array from r. limit is the most bytes r can hold
// (-1 if unknown): data needing more is a truncation error before anything
// is allocated. Data of up to trusted bytes from the start of r is
// allocated at once; larger data (or any, if trusted < 0) grows as it
// arrives.
func readNPY(r io.Reader, limit, trusted int64) (Array, error) {
	h, err := readHeader(r, limit)
	if err != nil {
		return Array{}, err
	}
	if err := h.checkFloat(); err != nil {
		return Array{}, err
	}
	if nbytes := h.nbytes(); limit >= 0 && nbytes > limit-h.dataOff {
		return Array{}, truncErr("truncated: shape %v of %s needs %d bytes of data, the input has %d after the header",
			h.shape, h.dt.name(), nbytes, limit-h.dataOff)
	}
	return h.readData(r, trusted)
}

// checkFloat returns an ErrDType error unless the header is of a float
// array.
func (h *header) checkFloat() error {
	if h.dt.kind == 'O' {
		return dtypeErr("unsupported dtype object (|O): the array is a pickle (read pickled dicts with ReadWeights)")
	}
	return h.dt.checkFloat()
}

// nbytes is the length of a float array's data. It cannot overflow: the
// element count is at most maxElems and an item at most 8 bytes.
func (h *header) nbytes() int64 { return int64(h.count) * int64(h.dt.size) }

// readData reads the data of the float array whose header has been read
// from r. Data of up to trusted bytes from the start of r is allocated at
// once; larger data (or any, if trusted < 0) grows as it arrives.
func (h *header) readData(r io.Reader, trusted int64) (Array, error) {
	nbytes := h.nbytes()
	what := fmt.Sprintf("the array data (%d bytes of %s, shape %v, at offset %d)", nbytes, h.dt.name(), h.shape, h.dataOff)
	var data []float32
	var err error
	if trusted >= 0 && nbytes <= trusted-h.dataOff {
		data = make([]float32, h.count)
		err = readFloats(r, data, h.dt, what)
	} else {
		data, err = readFloatsGrowing(r, h.count, h.dt, what)
	}
	if err != nil {
		return Array{}, err
	}
	if h.fortran {
		data = fortranToC(data, h.shape)
	}
	return Array{Shape: h.shape, Data: data}, nil
}

// readFloatsGrowing reads n items from a stream of unknown length, growing
// the result as data arrives rather than trusting n.
func readFloatsGrowing(r io.Reader, n int, d dtype, what string) ([]float32, error) {
	data := make([]float32, 0, min(n, 1<<18))
	for len(data) < n {
		if len(data) == cap(data) {
			data = slices.Grow(data, min(n-len(data), cap(data)))
		}
		k := min(cap(data), n) - len(data)
		if err := readFloats(r, data[len(data):len(data)+k], d, what); err != nil {
			return nil, err
		}
		data = data[:len(data)+k]
	}
	return data, nil
}

// openNPZ opens an .npz archive and checks its members' layout.
func openNPZ(r io.ReaderAt, size int64) (*zip.Reader, error) {
	z, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, truncErr("truncated npz: %v", err)
		}
		return nil, formatErr("bad npz (zip) archive: %v", err)
	}
	if err := checkOverlap(z.File, size); err != nil {
		return nil, err
	}
	return z, nil
}

// errTextMember: an .npz member of unicode strings where numbers are
// read (readMember).
var errTextMember = dtypeErr("a member of unicode strings, not numbers")

// ReadNPZ reads every array of numbers of an .npz file (as np.savez and
// WriteNPZ write them), with the member names without ".npy", in archive
// order. Members of unicode strings (the file names that vkvgg features
// and extract write as "paths") are left out; ReadNPZMembers reads them.
func ReadNPZ(path string) ([]string, map[string]Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	z, err := openNPZ(f, st.Size())
	if err != nil {
		return nil, nil, wrap(err, "%s", path)
	}
	var names []string
	arrays := map[string]Array{}
	budget := npzBudget(st.Size())
	for _, m := range z.File {
		name := strings.TrimSuffix(m.Name, ".npy")
		if _, dup := arrays[name]; dup {
			return nil, nil, formatErr("%s: npz holds %q twice", path, clip(name))
		}
		a, err := readMember(m, st.Size(), nil, &budget)
		if errors.Is(err, errTextMember) {
			continue
		}
		if err != nil {
			return nil, nil, wrap(err, "%s: npz member %q", path, clip(m.Name))
		}
		names = append(names, name)
		arrays[name] = a
	}
	return names, arrays, nil
}

// decodeNPZ reads the layers of an .npz archive.
func decodeNPZ(r io.ReaderAt, size int64, check ShapeCheck) (map[string]Layer, error) {
	z, err := openNPZ(r, size)
	if err != nil {
		return nil, err
	}
	type parts struct {
		arr  [2]Array
		have [2]bool
	}
	layers := map[string]*parts{}
	budget := npzBudget(size)
	for _, f := range z.File {
		key := strings.TrimSuffix(f.Name, ".npy")
		name, idx, ok := npzKey(key)
		if !ok {
			return nil, formatErr("npz member %q is not a layer_W, layer_b, layer/0 or layer/1 array", clip(f.Name))
		}
		p := layers[name]
		if p == nil {
			p = &parts{}
			layers[name] = p
		}
		if p.have[idx] {
			return nil, formatErr("npz holds layer %q's %s twice (member %q)", name, [2]string{"W", "b"}[idx], clip(f.Name))
		}
		var memberCheck func([]int) error
		if check != nil {
			memberCheck = func(shape []int) error { return check(name, idx, shape) }
		}
		a, err := readMember(f, size, memberCheck, &budget)
		if err != nil {
			return nil, wrap(err, "npz member %q", clip(f.Name))
		}
		p.arr[idx], p.have[idx] = a, true
	}
	if len(layers) == 0 {
		return nil, formatErr("the npz archive holds no arrays")
	}
	out := make(map[string]Layer, len(layers))
	for name, p := range layers {
		for i, ok := range p.have {
			if !ok {
				return nil, formatErr("npz layer %q has no %s array", name, [2]string{"W", "b"}[i])
			}
		}
		out[name] = Layer{W: p.arr[0], B: p.arr[1]}
	}
	return out, nil
}

// checkOverlap checks that no two members share compressed bytes, as
// archives crafted to inflate one stream many times do.
func checkOverlap(files []*zip.File, size int64) error {
	type span struct {
		off, end int64
		name     string
	}
	spans := make([]span, 0, len(files))
	for _, f := range files {
		off, err := f.DataOffset()
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return truncErr("truncated npz: member %q's header is cut off", clip(f.Name))
			}
			return formatErr("bad npz member %q: %v", clip(f.Name), err)
		}
		if f.CompressedSize64 > uint64(size) || off > size-int64(f.CompressedSize64) {
			return truncErr("truncated npz: member %q needs %d bytes at offset %d, the archive has %d",
				clip(f.Name), f.CompressedSize64, off, size)
		}
		spans = append(spans, span{off, off + int64(f.CompressedSize64), f.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].end {
			return formatErr("npz members %q and %q overlap", clip(spans[i-1].name), clip(spans[i].name))
		}
	}
	return nil
}

// npzKey splits "conv1_1_W", "conv1_1_b", "conv1_1/0" or "conv1_1/1" into
// the layer name and 0 for W, 1 for b.
func npzKey(key string) (string, int, bool) {
	for _, s := range []struct {
		suffix string
		idx    int
	}{{"/0", 0}, {"/1", 1}, {"_W", 0}, {"_b", 1}} {
		if name, ok := strings.CutSuffix(key, s.suffix); ok && name != "" {
			return name, s.idx, true
		}
	}
	return "", 0, false
}

// npzBudget is the most float32 data, in bytes, that the arrays of an .npz
// of size bytes may add up to: four times its size (float16 data doubles,
// and real weights hardly compress) and 16 MiB more. A deflated archive
// could hold up to 1032 times its size of zeros; one that holds more than
// this budget is refused as a bomb, which bounds what any .npz costs.
func npzBudget(size int64) int64 { return satMulAdd(4, size, 16<<20) }

// satMulAdd returns k*n+c for n, c >= 0, or math.MaxInt64 if that
// overflows.
func satMulAdd(k, n, c int64) int64 {
	if n > (math.MaxInt64-c)/k {
		return math.MaxInt64
	}
	return k*n + c
}

// maxDeflateRatio bounds how far deflate can expand: its longest match,
// 258 bytes, costs at least two bits (a one-bit length code and a one-bit
// distance code), so n compressed bytes never inflate to more than 1032n.
const maxDeflateRatio = 1032

// readMember reads one .npy member of an npz archive of size bytes; check,
// if not nil, judges the shape its header declares before the data is
// read, and the array's float32 size is taken from budget (see npzBudget).
//
// Nothing a member claims is trusted before it is checked: the npy header
// (at most maxHeaderLen bytes) is inflated first, and the size it declares,
// header and data, must equal the zip's uncompressed size and, for a
// deflated member, be no more than its compressed bytes can inflate to.
// The stream is then read for that size and one byte more (to see that it
// ends there), never further: a bomb that inflates to gigabytes costs the
// size its header declares at most, and a shape check refuses that size
// before any of it is inflated.
func readMember(f *zip.File, size int64, check func(shape []int) error, budget *int64) (Array, error) {
	switch f.Method {
	case zip.Store, zip.Deflate:
	default:
		return Array{}, formatErr("unsupported zip compression method %d", f.Method)
	}
	if f.CompressedSize64 > uint64(size) {
		return Array{}, truncErr("truncated npz: member claims %d compressed bytes, the archive has %d", f.CompressedSize64, size)
	}
	if f.Method == zip.Store && f.UncompressedSize64 != f.CompressedSize64 {
		return Array{}, formatErr("stored member has %d compressed and %d uncompressed bytes", f.CompressedSize64, f.UncompressedSize64)
	}
	compressed := int64(f.CompressedSize64)
	// The most bytes the member can hold once inflated.
	most := compressed
	if f.Method == zip.Deflate {
		most = satMulAdd(maxDeflateRatio, compressed, 1<<10)
	}
	claim := int64(min(f.UncompressedSize64, uint64(most)))
	rc, err := f.Open()
	if err != nil {
		return Array{}, formatErr("cannot open: %v", err)
	}
	defer rc.Close()
	h, err := readHeader(io.LimitReader(rc, claim), claim)
	if err != nil {
		return Array{}, err
	}
	if h.dt.kind == 'U' {
		return Array{}, errTextMember
	}
	if err := h.checkFloat(); err != nil {
		return Array{}, err
	}
	if check != nil {
		if err := check(append([]int(nil), h.shape...)); err != nil {
			return Array{}, refused(err, "shape %v refused", h.shape)
		}
	}
	nbytes := h.nbytes()
	if f.Method == zip.Deflate && nbytes > most-h.dataOff {
		return Array{}, truncErr("truncated: shape %v of %s needs %d bytes of data, more than the member's %d compressed bytes can inflate to",
			h.shape, h.dt.name(), nbytes, compressed)
	}
	if unc := f.UncompressedSize64; uint64(nbytes) > unc-uint64(h.dataOff) {
		return Array{}, truncErr("truncated: shape %v of %s needs %d bytes of data, the member has %d after the header",
			h.shape, h.dt.name(), nbytes, unc-uint64(h.dataOff))
	} else if uint64(nbytes) < unc-uint64(h.dataOff) {
		return Array{}, formatErr("the zip says the member holds %d bytes, its npy header %d (%d of header, shape %v of %s)",
			unc, h.dataOff+nbytes, h.dataOff, h.shape, h.dt.name())
	}
	if *budget -= 4 * int64(h.count); *budget < 0 {
		return Array{}, formatErr("shape %v makes the arrays add up to more float32 data than the npz's %d bytes can plausibly hold (%d bytes: 4 times its size and 16 MiB); is it a deflate bomb?",
			h.shape, size, npzBudget(size))
	}
	// Allocate at once only up to a size the compressed bytes can
	// plausibly inflate to; beyond that, grow as the data arrives, so that
	// a stream that ends early costs what it delivered.
	trusted := compressed
	if f.Method == zip.Deflate {
		trusted = 4*compressed + 1<<16
	}
	data := io.LimitReader(rc, nbytes+1)
	a, err := h.readData(data, min(trusted, h.dataOff+nbytes))
	if err != nil {
		return Array{}, err
	}
	// Reading on to the end makes archive/zip check the CRC-32. A byte
	// more is an error: archive/zip's own, since it holds the member to
	// the uncompressed size, equal to what the header declares.
	var one [1]byte
	if n, err := io.ReadFull(data, one[:]); n > 0 || errors.Is(err, zip.ErrFormat) {
		return Array{}, formatErr("the member goes on past the %d bytes its npy header declares", h.dataOff+nbytes)
	} else if err != nil && err != io.EOF {
		if errors.Is(err, zip.ErrChecksum) {
			return Array{}, formatErr("checksum mismatch: the member is corrupt")
		}
		return Array{}, ioErr(err, "the member's end")
	}
	return a, nil
}
