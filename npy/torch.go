package npy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"strings"
)

// TorchEntry is one entry of a PyTorch state dict, converted to float32 in
// C order.
type TorchEntry struct {
	// Name is the state dict key, "features.0.weight".
	Name string
	// Array holds the tensor's shape and values.
	Array Array
}

// TorchShapeCheck judges a tensor of a torch.save file before its data is
// read: name is its state dict key ("features.0.weight"), shape the shape
// the pickle declares. An error refuses the file: ReadTorchChecked returns
// it wrapped, matching both ErrFormat and the error itself.
type TorchShapeCheck func(name string, shape []int) error

// ReadTorch reads the file at path as torch.save(model.state_dict(), path)
// writes it: the zip format of PyTorch 1.6 and later, or the older format
// (_use_new_zipfile_serialization=False). It returns the float tensors
// (float16, bfloat16, float32, float64) in the state dict's order;
// integer and boolean tensors, such as batch norm's num_batches_tracked,
// are left out.
func ReadTorch(path string) ([]TorchEntry, error) {
	return ReadTorchChecked(path, nil)
}

// ReadTorchChecked reads a torch.save file as ReadTorch does and calls
// check, unless it is nil, with the name and shape of every float tensor
// it would return (the tensors left out are not checked), once the pickle
// has been read and before any tensor's data is read or any memory is set
// aside for it.
func ReadTorchChecked(path string, check TorchShapeCheck) ([]TorchEntry, error) {
	return decodeFile(path, func(f *os.File, size int64) ([]TorchEntry, error) { return DecodeTorchChecked(f, size, check) })
}

// DecodeTorch reads the state dict of ReadTorch from the size bytes of r.
// Each tensor is read once from r, straight into its float32 storage where
// its layout allows, so the memory held at the end is about the float32
// size of the tensors.
func DecodeTorch(r io.ReaderAt, size int64) ([]TorchEntry, error) {
	return DecodeTorchChecked(r, size, nil)
}

// DecodeTorchChecked reads the state dict of ReadTorchChecked from the size
// bytes of r, checking every float tensor's shape with check (if not nil)
// before any data is read.
func DecodeTorchChecked(r io.ReaderAt, size int64, check TorchShapeCheck) ([]TorchEntry, error) {
	var head [32]byte
	h, err := readHead(r, size, head[:])
	if err != nil {
		return nil, err
	}
	n := len(h)
	switch {
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return decodeTorchZip(r, size, check)
	case legacyMagicLen(h) > 0:
		return decodeTorchLegacy(r, size, check)
	case n == 0:
		return nil, truncErr("truncated: empty input")
	}
	return nil, formatErr("not a torch.save file: it starts with %q", h[:min(n, 16)])
}

// IsTorch reports whether head, the first bytes of a file, look like a
// torch.save file: a zip whose first member is <folder>/data.pkl, as
// PyTorch writes it, or the magic number of the older format. Pass at
// least the first 512 bytes (fewer if the file is shorter); a long archive
// folder name needs more. An archive rewritten by other tools, with
// data.pkl not first, reads with DecodeTorch but is not recognised here.
func IsTorch(head []byte) bool {
	if legacyMagicLen(head) > 0 {
		return true
	}
	// A zip local file header: the name's length at 26, the name at 30.
	if len(head) < 30 || string(head[:4]) != "PK\x03\x04" {
		return false
	}
	n := int(binary.LittleEndian.Uint16(head[26:]))
	if len(head) < 30+n {
		return false
	}
	dir, ok := strings.CutSuffix(string(head[30:30+n]), "/data.pkl")
	return ok && dir != "" && !strings.Contains(dir, "/")
}

// legacyMagicLen returns the length of the pickle of torch's magic number
// (0x1950a86a20f9469cfc6c) that starts the pre-1.6 format, or 0 if b does
// not start with one. It is matched as bytes: the machine's integers stop
// at 64 bits.
func legacyMagicLen(b []byte) int {
	const num = "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
	i := 0
	if len(b) < 2 || b[0] != 0x80 || b[1] < 2 || b[1] > 5 {
		return 0
	}
	i = 2
	if len(b) > i && b[i] == 0x95 { // FRAME, protocols 4 and 5
		i += 9
	}
	if len(b) < i+2+len(num)+1 || b[i] != 0x8a || b[i+1] != byte(len(num)) ||
		string(b[i+2:i+2+len(num)]) != num || b[i+2+len(num)] != '.' {
		return 0
	}
	return i + 2 + len(num) + 1
}

// torchType is the element type of a storage or a tensor.
type torchType struct {
	name string // "float32", as torch names it
	size int    // bytes per element
	// kind is 'f' for the float types read, 's' for types skipped
	// (integers, bool), 'x' for types refused (complex, quantized).
	kind byte
	bf16 bool // bfloat16: the top half of a float32
}

var (
	ttFloat32  = torchType{"float32", 4, 'f', false}
	ttFloat16  = torchType{"float16", 2, 'f', false}
	ttBFloat16 = torchType{"bfloat16", 2, 'f', true}
	ttFloat64  = torchType{"float64", 8, 'f', false}
	ttInt64    = torchType{"int64", 8, 's', false}
	ttInt32    = torchType{"int32", 4, 's', false}
	ttInt16    = torchType{"int16", 2, 's', false}
	ttInt8     = torchType{"int8", 1, 's', false}
	ttUint8    = torchType{"uint8", 1, 's', false}
	ttBool     = torchType{"bool", 1, 's', false}
)

// torchStorageTypes maps the storage classes of persistent ids (the global
// torch.<name>) to their element types. An UntypedStorage holds bytes.
var torchStorageTypes = map[string]torchType{
	"FloatStorage":         ttFloat32,
	"HalfStorage":          ttFloat16,
	"BFloat16Storage":      ttBFloat16,
	"DoubleStorage":        ttFloat64,
	"LongStorage":          ttInt64,
	"IntStorage":           ttInt32,
	"ShortStorage":         ttInt16,
	"CharStorage":          ttInt8,
	"ByteStorage":          ttUint8,
	"BoolStorage":          ttBool,
	"UntypedStorage":       ttUint8,
	"ComplexFloatStorage":  {"complex64", 8, 'x', false},
	"ComplexDoubleStorage": {"complex128", 16, 'x', false},
	"QInt8Storage":         {"qint8", 1, 'x', false},
	"QUInt8Storage":        {"quint8", 1, 'x', false},
	"QInt32Storage":        {"qint32", 4, 'x', false},
	"QUInt4x2Storage":      {"quint4x2", 1, 'x', false},
	"QUInt2x4Storage":      {"quint2x4", 1, 'x', false},
}

// torchDTypes maps the dtype globals of _rebuild_tensor_v3 (torch.<name>)
// to element types.
var torchDTypes = map[string]torchType{
	"float32": ttFloat32, "float": ttFloat32,
	"float16": ttFloat16, "half": ttFloat16,
	"bfloat16": ttBFloat16,
	"float64":  ttFloat64, "double": ttFloat64,
	"int64": ttInt64, "long": ttInt64,
	"int32": ttInt32, "int": ttInt32,
	"int16": ttInt16, "short": ttInt16,
	"int8":   ttInt8,
	"uint8":  ttUint8,
	"uint16": {"uint16", 2, 's', false},
	"uint32": {"uint32", 4, 's', false},
	"uint64": {"uint64", 8, 's', false},
	"bool":   ttBool,
}

// torchFuncs are the callable torch globals.
var torchFuncs = map[string]bool{
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_tensor_v3":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch._tensor._rebuild_from_type_v2":        true,
}

// torchGlobal reports whether a torch pickle may name the global full.
func torchGlobal(full string) bool {
	if torchFuncs[full] {
		return true
	}
	switch full {
	case "torch.Tensor", "torch.nn.parameter.Parameter", "torch.storage.UntypedStorage":
		return true
	}
	name, ok := strings.CutPrefix(full, "torch.")
	if !ok {
		return false
	}
	_, st := torchStorageTypes[name]
	_, dt := torchDTypes[name]
	return st || dt
}

// torchStorage is a storage named by a persistent id.
type torchStorage struct {
	key   string
	typ   torchType
	numel int64 // elements of typ, as the persistent id says
	// Where the bytes are, once found: the offset in the input, and
	// whether they are big-endian.
	found bool
	off   int64
	big   bool
}

// nbytes is the storage's length in bytes.
func (s *torchStorage) nbytes() int64 { return s.numel * int64(s.typ.size) }

// torchTensor is a tensor rebuilt by _rebuild_tensor and its variants.
type torchTensor struct {
	st     *torchStorage
	typ    torchType
	offset int64 // in elements of typ
	shape  []int
	stride []int64
	count  int
	hi     int64 // storage element (of typ) just past the last one used
}

// torchLoader is the state of the pickle machine that is particular to
// torch: the storages that persistent ids named, by key.
type torchLoader struct {
	storages map[string]*torchStorage
	legacy   bool // persistent ids carry view metadata (pre-1.6 format)
}

func newTorchLoader(legacy bool) *torchLoader {
	return &torchLoader{storages: map[string]*torchStorage{}, legacy: legacy}
}

// persistentLoad resolves BINPERSID's persistent id: ('storage', storage
// class, key, location, numel), with a sixth item, view metadata (None), in
// the pre-1.6 format.
func (l *torchLoader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	want, form := 5, "('storage', class, key, location, numel)"
	if l.legacy {
		want, form = 6, "('storage', class, key, location, numel, view)"
	}
	if !ok || len(t) != want {
		return nil, formatErr("persistent id is %s, want %s", aType(pid), form)
	}
	if s, ok := text(t[0]); !ok || s != "storage" {
		if ok {
			return nil, formatErr("persistent id of type %q, want 'storage'", clip(s))
		}
		return nil, formatErr("persistent id of type %s, want 'storage'", typeName(t[0]))
	}
	cls, ok := t[1].(pyGlobal)
	typ, known := torchStorageTypes[cls.name]
	if !ok || !known || (cls.module != "torch" && !(cls.module == "torch.storage" && cls.name == "UntypedStorage")) {
		return nil, formatErr("persistent id's storage class is %s", typeName(t[1]))
	}
	key, ok := text(t[2])
	if !ok {
		return nil, formatErr("persistent id's key is %s, not a str", typeName(t[2]))
	}
	if _, ok := text(t[3]); !ok {
		return nil, formatErr("storage %q: location is %s, not a str", clip(key), typeName(t[3]))
	}
	numel, ok := t[4].(pyInt)
	if !ok || numel < 0 || int64(numel) > math.MaxInt64/int64(typ.size) {
		return nil, formatErr("storage %q: size is %s", clip(key), typeName(t[4]))
	}
	if l.legacy {
		if _, none := t[5].(pyNone); !none {
			return nil, formatErr("storage %q is a view of another storage (view metadata %s), which is not supported",
				clip(key), typeName(t[5]))
		}
	}
	if s, ok := l.storages[key]; ok {
		if s.typ != typ || s.numel != int64(numel) {
			return nil, formatErr("storage %q is named as %s of %d elements and as %s of %d",
				clip(key), s.typ.name, s.numel, typ.name, numel)
		}
		return s, nil
	}
	if len(l.storages) >= maxMemo {
		return nil, formatErr("more than %d storages", maxMemo)
	}
	s := &torchStorage{key: key, typ: typ, numel: int64(numel)}
	l.storages[key] = s
	return s, nil
}

// torchCall applies the torch global g to args; ok is false for a global
// that is not a torch function.
func (m *machine) torchCall(g pyGlobal, args pyTuple) (x any, ok bool, err error) {
	full := g.module + "." + g.name
	if !torchFuncs[full] {
		return nil, false, nil
	}
	x, err = torchRebuild(g.name, args, true)
	return x, true, err
}

// torchRebuild implements the rebuild function name. nested allows
// _rebuild_from_type_v2, which calls another rebuild function.
func torchRebuild(name string, args pyTuple, nested bool) (any, error) {
	switch name {
	case "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3":
		// _rebuild_tensor(storage, storage_offset, size, stride)
		// _rebuild_tensor_v2(..., requires_grad, backward_hooks[, metadata])
		// _rebuild_tensor_v3(..., requires_grad, backward_hooks, dtype[, metadata])
		lo, hi := 4, 4
		switch name {
		case "_rebuild_tensor_v2":
			lo, hi = 6, 7
		case "_rebuild_tensor_v3":
			lo, hi = 7, 8
		}
		if len(args) < lo || len(args) > hi {
			return nil, formatErr("%s takes %d to %d arguments, got %d", name, lo, hi, len(args))
		}
		st, ok := args[0].(*torchStorage)
		if !ok {
			return nil, formatErr("%s of %s, not a storage", name, aType(args[0]))
		}
		typ := st.typ
		if lo >= 6 {
			if _, ok := args[4].(pyBool); !ok {
				return nil, formatErr("%s: requires_grad is %s", name, aType(args[4]))
			}
			if _, ok := args[5].(*pyDict); !ok {
				if _, none := args[5].(pyNone); !none {
					return nil, formatErr("%s: backward_hooks is %s", name, aType(args[5]))
				}
			}
		}
		if name == "_rebuild_tensor_v3" {
			g, ok := args[6].(pyGlobal)
			t, known := torchDTypes[g.name]
			if !ok || g.module != "torch" || !known {
				return nil, formatErr("%s: dtype is %s", name, typeName(args[6]))
			}
			typ = t
		}
		if len(args) == hi && hi > 4 {
			if err := checkTensorMetadata(args[hi-1]); err != nil {
				return nil, wrap(err, "%s", name)
			}
		}
		return newTorchTensor(st, typ, args[1], args[2], args[3])
	case "_rebuild_parameter", "_rebuild_parameter_with_state":
		// (data, requires_grad, backward_hooks[, state]): the tensor is data.
		n := 3
		if name == "_rebuild_parameter_with_state" {
			n = 4
		}
		if len(args) != n {
			return nil, formatErr("%s takes %d arguments, got %d", name, n, len(args))
		}
		t, ok := args[0].(*torchTensor)
		if !ok {
			return nil, formatErr("%s of %s, not a tensor", name, aType(args[0]))
		}
		return t, nil
	case "_rebuild_from_type_v2":
		// (func, new_type, args, state): func(*args) as new_type, a tensor
		// subclass with Python attributes in state, which are left out.
		if !nested {
			return nil, formatErr("%s inside %s", name, name)
		}
		if len(args) != 4 {
			return nil, formatErr("%s takes 4 arguments, got %d", name, len(args))
		}
		fn, ok := args[0].(pyGlobal)
		if !ok || fn.module != "torch._utils" || !torchFuncs[fn.module+"."+fn.name] {
			return nil, formatErr("%s of function %s", name, typeName(args[0]))
		}
		cls, ok := args[1].(pyGlobal)
		if !ok || !(cls.module == "torch" && cls.name == "Tensor" || cls.module == "torch.nn.parameter" && cls.name == "Parameter") {
			return nil, formatErr("%s to type %s, want torch.Tensor or torch.nn.parameter.Parameter", name, typeName(args[1]))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, formatErr("%s with arguments %s, not a tuple", name, aType(args[2]))
		}
		return torchRebuild(fn.name, inner, false)
	}
	return nil, formatErr("cannot call torch function %s", name)
}

// checkTensorMetadata accepts the metadata argument of the rebuild
// functions when it sets nothing: None, or a dict of false values. Other
// metadata (a negative-bit view, for one) would change the values.
func checkTensorMetadata(x any) error {
	switch x := x.(type) {
	case pyNone:
		return nil
	case *pyDict:
		for i, v := range x.vals {
			if b, ok := v.(pyBool); ok && !bool(b) {
				continue
			}
			k, _ := text(x.keys[i])
			return formatErr("tensor metadata %q = %s is not supported", clip(k), typeName(v))
		}
		return nil
	}
	return formatErr("tensor metadata is %s", aType(x))
}

// newTorchTensor checks a tensor's offset, size and stride against its
// storage's length (in elements of typ, as the persistent id claims it;
// the claim is checked against the input later, before any reading).
func newTorchTensor(st *torchStorage, typ torchType, offArg, sizeArg, strideArg any) (*torchTensor, error) {
	off, ok := offArg.(pyInt)
	if !ok || off < 0 {
		return nil, formatErr("storage offset is %s", typeName(offArg))
	}
	size, ok1 := sizeArg.(pyTuple)
	stride, ok2 := strideArg.(pyTuple)
	if !ok1 || !ok2 || len(size) != len(stride) {
		return nil, formatErr("size %s and stride %s are not tuples of the same length", typeName(sizeArg), typeName(strideArg))
	}
	if len(size) > 64 {
		return nil, formatErr("tensor has %d dimensions (at most 64)", len(size))
	}
	t := &torchTensor{st: st, typ: typ, offset: int64(off), shape: make([]int, len(size)), stride: make([]int64, len(size))}
	// The storage's length in elements of the tensor's type.
	avail := st.nbytes() / int64(typ.size)
	for i := range size {
		n, ok1 := size[i].(pyInt)
		s, ok2 := stride[i].(pyInt)
		if !ok1 || !ok2 {
			return nil, formatErr("size %s and stride %s hold %s and %s, not ints",
				tupleString(size), tupleString(stride), aType(size[i]), aType(stride[i]))
		}
		if n < 0 || s < 0 || int64(n) > maxElems {
			return nil, formatErr("size %s, stride %s: dimension %d has size %d and stride %d",
				tupleString(size), tupleString(stride), i, n, s)
		}
		t.shape[i], t.stride[i] = int(n), int64(s)
	}
	var err error
	if t.count, err = elemCount(t.shape); err != nil {
		return nil, err
	}
	if t.count == 0 {
		if t.offset > avail {
			return nil, formatErr("storage offset %d is past the end of storage %q of %d %s elements",
				t.offset, clip(st.key), avail, typ.name)
		}
		t.hi = t.offset
		return t, nil
	}
	// The last element used is offset + sum((size-1)*stride): it must lie
	// inside the storage, with no overflow on the way.
	last := uint64(t.offset)
	overflow := false
	for i, n := range t.shape {
		hi, lo := bits.Mul64(uint64(n-1), uint64(t.stride[i]))
		var carry uint64
		last, carry = bits.Add64(last, lo, 0)
		overflow = overflow || hi != 0 || carry != 0
	}
	if overflow || last >= uint64(avail) {
		return nil, formatErr("size %v, stride %v and offset %d reach past the end of storage %q of %d %s elements",
			t.shape, t.stride, t.offset, clip(st.key), avail, typ.name)
	}
	t.hi = int64(last) + 1
	return t, nil
}

func tupleString(t pyTuple) string {
	parts := make([]string, 0, min(len(t), 9))
	for i, x := range t {
		if i == 8 {
			parts = append(parts, "...")
			break
		}
		if n, ok := x.(pyInt); ok {
			parts = append(parts, fmt.Sprint(int64(n)))
		} else {
			parts = append(parts, typeName(x))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// stateDict lists the tensors of what a torch pickle made: a dict (an
// OrderedDict, usually) of str names to tensors.
func stateDict(obj any) ([]string, []*torchTensor, error) {
	d, ok := obj.(*pyDict)
	if !ok {
		return nil, nil, formatErr("the pickle holds %s, not a state dict", aType(obj))
	}
	names := make([]string, len(d.keys))
	tensors := make([]*torchTensor, len(d.keys))
	for i, k := range d.keys {
		name, ok := text(k)
		if !ok {
			return nil, nil, formatErr("state dict key is %s, not a str", aType(k))
		}
		t, ok := d.vals[i].(*torchTensor)
		if !ok {
			return nil, nil, formatErr("state dict entry %q is %s, not a tensor", clip(name), aType(d.vals[i]))
		}
		names[i], tensors[i] = name, t
	}
	return names, tensors, nil
}

// checkTensors calls check with the name and shape of every float tensor of
// a state dict.
func checkTensors(names []string, tensors []*torchTensor, check TorchShapeCheck) error {
	if check == nil {
		return nil
	}
	for i, t := range tensors {
		if t.typ.kind != 'f' {
			continue
		}
		if err := check(names[i], append([]int(nil), t.shape...)); err != nil {
			return refused(err, "tensor %q of shape %v refused", clip(names[i]), t.shape)
		}
	}
	return nil
}

// readTensors reads the float tensors of a state dict whose storages have
// been found.
func readTensors(r io.ReaderAt, size int64, names []string, tensors []*torchTensor) ([]TorchEntry, error) {
	// However tensors share storages, the output may not exceed four times
	// the input: float16 data doubles, and tied weights (two names, one
	// storage) are common.
	budget := 4*size + 1<<20
	done := map[*torchTensor]Array{}
	out := make([]TorchEntry, 0, len(names))
	for i, t := range tensors {
		if !t.st.found {
			return nil, formatErr("tensor %q: the file holds no data for storage %q", clip(names[i]), clip(t.st.key))
		}
		switch t.typ.kind {
		case 's':
			continue
		case 'x':
			return nil, dtypeErr("tensor %q: unsupported dtype %s (want float16, bfloat16, float32 or float64)",
				clip(names[i]), t.typ.name)
		}
		a, ok := done[t]
		if !ok {
			if budget -= 4 * int64(t.count); budget < 0 {
				return nil, formatErr("tensor %q: the tensors add up to more data than the input can hold (storages shared too often)",
					clip(names[i]))
			}
			var err error
			if a, err = t.read(r); err != nil {
				return nil, wrap(err, "tensor %q", clip(names[i]))
			}
			done[t] = a
		}
		out = append(out, TorchEntry{Name: names[i], Array: a})
	}
	return out, nil
}

// read reads t's values into a new C-order float32 array. A contiguous
// tensor is read straight into the result. Otherwise the elements are
// gathered by stride: from one read of the storage range they span when
// that range is at most twice the tensor, else run by run (a run being the
// tensor's contiguous innermost dimensions) from r.
func (t *torchTensor) read(r io.ReaderAt) (Array, error) {
	shape := append([]int{}, t.shape...)
	data := make([]float32, t.count)
	if t.count == 0 {
		return Array{Shape: shape, Data: data}, nil
	}
	esize := int64(t.typ.size)
	base := t.st.off // the storage's first byte in r
	// The innermost dimensions k.. are contiguous in the storage.
	k, run, want := len(t.shape), 1, int64(1)
	for d := len(t.shape) - 1; d >= 0; d-- {
		if t.shape[d] == 1 {
			k = d
			continue
		}
		if t.stride[d] != want {
			break
		}
		want *= int64(t.shape[d])
		run *= t.shape[d]
		k = d
	}
	if k == 0 {
		err := t.typ.read(r, base+t.offset*esize, data, t.st.big)
		return Array{Shape: shape, Data: data}, err
	}
	span := t.hi - t.offset
	var src []float32
	if span <= 2*int64(t.count) {
		src = make([]float32, span)
		if err := t.typ.read(r, base+t.offset*esize, src, t.st.big); err != nil {
			return Array{}, err
		}
	}
	// Walk the outer dimensions 0..k-1, last fastest.
	idx := make([]int, k)
	off := t.offset
	for i := 0; i < t.count; i += run {
		if src != nil {
			copy(data[i:i+run], src[off-t.offset:])
		} else if err := t.typ.read(r, base+off*esize, data[i:i+run], t.st.big); err != nil {
			return Array{}, err
		}
		for d := k - 1; d >= 0; d-- {
			idx[d]++
			off += t.stride[d]
			if idx[d] < t.shape[d] {
				break
			}
			off -= t.stride[d] * int64(t.shape[d])
			idx[d] = 0
		}
	}
	return Array{Shape: shape, Data: data}, nil
}

// read reads len(dst) elements of the float type t at off in r into dst.
func (t torchType) read(r io.ReaderAt, off int64, dst []float32, big bool) error {
	n := int64(len(dst)) * int64(t.size)
	what := fmt.Sprintf("the tensor data (%d bytes of %s at offset %d)", n, t.name, off)
	sr := io.NewSectionReader(r, off, n)
	if !t.bf16 {
		dt := dtype{order: '<', kind: 'f', size: t.size}
		if big {
			dt.order = '>'
		}
		return readFloats(sr, dst, dt, what)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if big {
		order = binary.BigEndian
	}
	buf := make([]byte, min(convertChunk, 2*len(dst)))
	for len(dst) > 0 {
		k := min(len(buf)/2, len(dst))
		b := buf[:2*k]
		if _, err := io.ReadFull(sr, b); err != nil {
			return ioErr(err, what)
		}
		for i := range dst[:k] {
			dst[i] = math.Float32frombits(uint32(order.Uint16(b[2*i:])) << 16)
		}
		dst = dst[k:]
	}
	return nil
}

// decodeTorchZip reads the zip format: <folder>/data.pkl, the pickle, and
// <folder>/data/<key>, each storage's bytes, stored uncompressed.
func decodeTorchZip(r io.ReaderAt, size int64, check TorchShapeCheck) ([]TorchEntry, error) {
	z, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, truncErr("truncated torch zip: %v", err)
		}
		return nil, formatErr("bad torch zip archive: %v", err)
	}
	folder := ""
	members := map[string]*zip.File{}
	for _, f := range z.File {
		dir, rest, ok := strings.Cut(f.Name, "/")
		if !ok || dir == "" {
			return nil, formatErr("zip member %q is not under a top folder, as in a torch.save file", clip(f.Name))
		}
		if folder == "" {
			folder = dir
		} else if dir != folder {
			return nil, formatErr("zip members under two top folders, %q and %q: not a torch.save file", clip(folder), clip(dir))
		}
		if _, dup := members[rest]; dup {
			return nil, formatErr("the zip holds %q twice", clip(f.Name))
		}
		members[rest] = f
	}
	pkl := members["data.pkl"]
	if pkl == nil {
		if len(z.File) == 0 {
			return nil, formatErr("empty zip archive, not a torch.save file")
		}
		return nil, formatErr("no %s/data.pkl in the zip: not a torch.save file", clip(folder))
	}
	if members["constants.pkl"] != nil {
		return nil, formatErr("a TorchScript archive (torch.jit.save, with %s/constants.pkl), not a torch.save file", clip(folder))
	}
	big := false
	if f := members["byteorder"]; f != nil {
		b, err := memberBytes(r, size, f, 16)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			big = true
		default:
			return nil, formatErr("%s holds %q, want \"little\" or \"big\"", clip(f.Name), clip(string(b)))
		}
	}
	off, n, err := storedMember(size, pkl)
	if err != nil {
		return nil, err
	}
	m := &machine{s: stream{r: r, start: off, pos: off, end: off + n}, memo: map[int64]any{}, torch: newTorchLoader(false)}
	obj, err := m.run()
	if err != nil {
		return nil, wrap(err, "%s", clip(pkl.Name))
	}
	names, tensors, err := stateDict(obj)
	if err != nil {
		return nil, wrap(err, "%s", clip(pkl.Name))
	}
	if err := checkTensors(names, tensors, check); err != nil {
		return nil, err
	}
	for _, t := range tensors {
		st := t.st
		if st.found {
			continue
		}
		f := members["data/"+st.key]
		if f == nil {
			return nil, formatErr("no member %s/data/%s for storage %q", clip(folder), clip(st.key), clip(st.key))
		}
		off, n, err := storedMember(size, f)
		if err != nil {
			return nil, err
		}
		if n != st.nbytes() {
			return nil, formatErr("storage %q of %d %s elements needs %d bytes, member %s holds %d",
				clip(st.key), st.numel, st.typ.name, st.nbytes(), clip(f.Name), n)
		}
		st.found, st.off, st.big = true, off, big
	}
	return readTensors(r, size, names, tensors)
}

// storedMember returns the offset and length of an uncompressed member's
// bytes in the input.
func storedMember(size int64, f *zip.File) (off, n int64, err error) {
	if f.Method != zip.Store {
		return 0, 0, formatErr("zip member %q is compressed (method %d); torch.save stores members uncompressed",
			clip(f.Name), f.Method)
	}
	if f.CompressedSize64 != f.UncompressedSize64 {
		return 0, 0, formatErr("stored zip member %q has %d compressed and %d uncompressed bytes",
			clip(f.Name), f.CompressedSize64, f.UncompressedSize64)
	}
	off, err = f.DataOffset()
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return 0, 0, truncErr("truncated torch zip: member %q's header is cut off", clip(f.Name))
		}
		return 0, 0, formatErr("bad zip member %q: %v", clip(f.Name), err)
	}
	if f.CompressedSize64 > uint64(size) || off > size-int64(f.CompressedSize64) {
		return 0, 0, truncErr("truncated torch zip: member %q needs %d bytes at offset %d, the input has %d",
			clip(f.Name), f.CompressedSize64, off, size)
	}
	return off, int64(f.CompressedSize64), nil
}

// memberBytes reads a small stored member of at most limit bytes.
func memberBytes(r io.ReaderAt, size int64, f *zip.File, limit int64) ([]byte, error) {
	off, n, err := storedMember(size, f)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, formatErr("zip member %q has %d bytes, want at most %d", clip(f.Name), n, limit)
	}
	b := make([]byte, n)
	if k, err := r.ReadAt(b, off); k < len(b) {
		return nil, ioErr(orUnexpectedEOF(err), fmt.Sprintf("zip member %q", clip(f.Name)))
	}
	return b, nil
}

// orUnexpectedEOF returns err, or io.ErrUnexpectedEOF for a short read
// without one.
func orUnexpectedEOF(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// torchProtocolVersion is the second pickle of the pre-1.6 format.
const torchProtocolVersion = 1001

// decodeTorchLegacy reads the pre-1.6 format: five pickles (the magic
// number, the protocol version 1001, a dict of system information, the
// state dict, the list of storage keys) and then, for each key in that
// order, the storage's element count as an 8-byte integer and its bytes,
// both little-endian.
func decodeTorchLegacy(r io.ReaderAt, size int64, check TorchShapeCheck) ([]TorchEntry, error) {
	var head [32]byte
	n, _ := r.ReadAt(head[:min(int64(len(head)), size)], 0)
	pos := int64(legacyMagicLen(head[:n]))
	next := func(what string, l *torchLoader) (any, error) {
		m := &machine{s: stream{r: r, start: pos, pos: pos, end: size}, memo: map[int64]any{}, torch: l}
		obj, err := m.run()
		if err != nil {
			return nil, wrap(err, "%s (the pickle at offset %d)", what, pos)
		}
		pos = m.s.pos
		return obj, nil
	}
	v, err := next("the protocol version", nil)
	if err != nil {
		return nil, err
	}
	if v, ok := v.(pyInt); !ok || v != torchProtocolVersion {
		return nil, formatErr("torch protocol version is %s, want %d", typeName(v), torchProtocolVersion)
	}
	info, err := next("the system information", nil)
	if err != nil {
		return nil, err
	}
	// The system information also says whether the writer was
	// little-endian, but torch wrote the counts and the data little-endian
	// either way.
	if _, ok := info.(*pyDict); !ok {
		return nil, formatErr("torch system information is %s, not a dict", aType(info))
	}
	loader := newTorchLoader(true)
	obj, err := next("the state dict", loader)
	if err != nil {
		return nil, err
	}
	names, tensors, err := stateDict(obj)
	if err != nil {
		return nil, err
	}
	if err := checkTensors(names, tensors, check); err != nil {
		return nil, err
	}
	keys, err := next("the storage keys", nil)
	if err != nil {
		return nil, err
	}
	list, ok := keys.(*pyList)
	if !ok {
		return nil, formatErr("the storage keys are %s, not a list", aType(keys))
	}
	for _, k := range list.items {
		key, ok := text(k)
		if !ok {
			return nil, formatErr("storage key is %s, not a str", aType(k))
		}
		st := loader.storages[key]
		if st == nil {
			return nil, formatErr("storage %q is listed but no tensor uses it", clip(key))
		}
		if st.found {
			return nil, formatErr("storage %q is listed twice", clip(key))
		}
		var cb [8]byte
		if k, err := r.ReadAt(cb[:], pos); k < len(cb) {
			return nil, ioErr(orUnexpectedEOF(err), fmt.Sprintf("the element count of storage %q at offset %d", clip(key), pos))
		}
		if c := binary.LittleEndian.Uint64(cb[:]); c != uint64(st.numel) {
			return nil, formatErr("storage %q at offset %d holds %d elements, its persistent id says %d",
				clip(key), pos, c, st.numel)
		}
		pos += 8
		if st.nbytes() > size-pos {
			return nil, truncErr("truncated: storage %q needs %d bytes at offset %d, the input has %d left",
				clip(key), st.nbytes(), pos, size-pos)
		}
		st.found, st.off = true, pos
		pos += st.nbytes()
	}
	return readTensors(r, size, names, tensors)
}
