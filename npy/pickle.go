package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The pickle machine. It runs the opcodes of protocols 0 to 5 that pickled
// numpy arrays and dicts use, builds a small object graph of its own types
// (never Go strings of array data) and calls only the whitelisted globals,
// which it implements itself. Large string and bytes payloads are not read:
// they become blobs, offsets into the input read later, straight into the
// float32 arrays that need them.

// Python objects.
type (
	pyNone   struct{}
	pyBool   bool
	pyInt    int64
	pyFloat  float64
	pyTuple  []any
	pyString struct{ b blob } // str (Python 3) or unicode (Python 2), UTF-8
	pyBytes  struct{ b blob } // bytes, bytearray, or a Python 2 str
	pyList   struct{ items []any }
	pyGlobal struct{ module, name string }
	pyDType  struct{ dt dtype }
)

// pyArray is a numpy ndarray under construction (after _reconstruct) or
// built (after BUILD or _frombuffer).
type pyArray struct {
	built   bool
	shape   []int
	count   int
	dt      dtype
	fortran bool
	raw     blob  // numeric data
	objs    []any // object arrays' items
}

// pyDict is a dict or OrderedDict, in insertion order.
type pyDict struct {
	keys []any
	vals []any
	idx  map[dictKey]int
}

// dictKey is the hashable form of a key: str and Python 2 str compare equal,
// as they do once numpy loads with encoding='latin1'.
type dictKey struct {
	kind byte // 's' string, 'i' integer or bool, 'f' float, 'n' None
	s    string
	i    int64
	f    float64
}

func newDict() *pyDict { return &pyDict{idx: map[dictKey]int{}} }

func (d *pyDict) set(k, v any) error {
	hk, err := hashKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.idx[hk]; ok {
		d.vals[i] = v
		return nil
	}
	d.idx[hk] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k dictKey) (any, bool) {
	i, ok := d.idx[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

func hashKey(k any) (dictKey, error) {
	switch k := k.(type) {
	case pyString, pyBytes:
		s, ok := text(k)
		if !ok {
			return dictKey{}, formatErr("dict key of %d bytes is too long", blobOf(k).n)
		}
		return dictKey{kind: 's', s: s}, nil
	case pyInt:
		return dictKey{kind: 'i', i: int64(k)}, nil
	case pyBool:
		if k {
			return dictKey{kind: 'i', i: 1}, nil
		}
		return dictKey{kind: 'i'}, nil
	case pyFloat:
		if f := float64(k); f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return dictKey{kind: 'i', i: int64(f)}, nil
		}
		return dictKey{kind: 'f', f: float64(k)}, nil
	case pyNone:
		return dictKey{kind: 'n'}, nil
	}
	return dictKey{}, formatErr("dict key of type %s is not supported", typeName(k))
}

// aType is typeName with an article: "a list of 2 items", "an int", "None".
func aType(x any) string {
	n := typeName(x)
	switch {
	case n == "None":
		return n
	case strings.IndexByte("aeiou", n[0]) >= 0:
		return "an " + n
	}
	return "a " + n
}

// typeName names the Python type of x for messages.
func typeName(x any) string {
	switch x := x.(type) {
	case pyNone:
		return "None"
	case pyBool:
		return "bool"
	case pyInt:
		return "int"
	case pyFloat:
		return "float"
	case pyTuple:
		return fmt.Sprintf("tuple of %d items", len(x))
	case pyString:
		return "str"
	case pyBytes:
		return "bytes"
	case *pyList:
		return fmt.Sprintf("list of %d items", len(x.items))
	case *pyDict:
		return fmt.Sprintf("dict of %d items", len(x.keys))
	case pyGlobal:
		return x.module + "." + x.name
	case *pyDType:
		return "numpy.dtype " + x.dt.String()
	case *pyArray:
		if !x.built {
			return "numpy.ndarray (never built)"
		}
		return fmt.Sprintf("numpy.ndarray %s of shape %v", x.dt.name(), x.shape)

	case *torchStorage:
		return fmt.Sprintf("torch storage %q of %d %s elements", clip(x.key), x.numel, x.typ.name)
	case *torchTensor:
		return fmt.Sprintf("torch tensor %s of shape %v", x.typ.name, x.shape)
	}
	return fmt.Sprintf("%T", x)
}

// blob is the content of a str or bytes object: bytes held in memory, or n
// bytes of the input at off. latin1 marks input bytes that are UTF-8 text
// standing for the bytes of its code points (what _codecs.encode(s,
// 'latin1') makes); n is then the number of code points and size the
// number of input bytes.
type blob struct {
	mem    []byte
	inFile bool
	latin1 bool
	off    int64
	n      int64
	size   int64
}

func memBlob(b []byte) blob { return blob{mem: b, n: int64(len(b))} }

func blobOf(x any) blob {
	switch x := x.(type) {
	case pyString:
		return x.b
	case pyBytes:
		return x.b
	}
	return blob{}
}

// text returns a str's or a Python 2 str's value as a Go string when held in
// memory. Python 2 strs (bytes) are latin1, as numpy's encoding='latin1'
// reads them.
func text(x any) (string, bool) {
	switch x := x.(type) {
	case pyString:
		if x.b.inFile {
			return "", false
		}
		return string(x.b.mem), true
	case pyBytes:
		if x.b.inFile {
			return "", false
		}
		if !needsLatin1(x.b.mem) {
			return string(x.b.mem), true
		}
		r := make([]rune, len(x.b.mem))
		for i, c := range x.b.mem {
			r[i] = rune(c)
		}
		return string(r), true
	}
	return "", false
}

func needsLatin1(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// open returns a reader of the blob's bytes (for latin1 blobs, the decoded
// bytes).
func (b blob) open(ra io.ReaderAt) io.Reader {
	if !b.inFile {
		return bytes.NewReader(b.mem)
	}
	if !b.latin1 {
		return io.NewSectionReader(ra, b.off, b.n)
	}
	return &latin1Reader{r: bufio.NewReaderSize(io.NewSectionReader(ra, b.off, b.size), 1<<16)}
}

// latin1Reader decodes UTF-8 text whose code points are all below 256 into
// those bytes.
type latin1Reader struct {
	r *bufio.Reader
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, size, err := l.r.ReadRune()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		if c > 0xff || (c == utf8.RuneError && size == 1) {
			return n, formatErr("latin1-encoded bytes hold code point %U", c)
		}
		p[n] = byte(c)
		n++
	}
	return n, nil
}

// latin1 encodes a str the way _codecs.encode(s, 'latin1') does.
func (m *machine) latin1(s pyString) (pyBytes, error) {
	if !s.b.inFile {
		out := make([]byte, 0, len(s.b.mem))
		// In-memory strs were checked to be valid UTF-8 when read.
		for i, c := range string(s.b.mem) {
			if c > 0xff {
				return pyBytes{}, formatErr("_codecs.encode: code point %U at %d cannot be latin1", c, i)
			}
			out = append(out, byte(c))
		}
		return pyBytes{memBlob(out)}, nil
	}
	// Count the code points without holding the text.
	br := bufio.NewReaderSize(io.NewSectionReader(m.s.r, s.b.off, s.b.n), 1<<16)
	var count int64
	for {
		c, size, err := br.ReadRune()
		if err == io.EOF {
			break
		}
		if err != nil {
			return pyBytes{}, ioErr(err, fmt.Sprintf("the str at offset %d", s.b.off))
		}
		if c > 0xff || (c == utf8.RuneError && size == 1) {
			return pyBytes{}, formatErr("_codecs.encode: code point %U in the str at offset %d cannot be latin1", c, s.b.off)
		}
		count++
	}
	return pyBytes{blob{inFile: true, latin1: true, off: s.b.off, n: count, size: s.b.n}}, nil
}

// stream reads the pickle's bytes from an io.ReaderAt through a window, and
// skips payloads without reading them.
type stream struct {
	r      io.ReaderAt
	start  int64 // offset of the pickle's first byte
	pos    int64 // next byte to read
	end    int64 // input size
	buf    []byte
	bufOff int64
}

const windowSize = 1 << 16

// need returns the next n bytes (n <= windowSize), valid until the next call.
func (s *stream) need(n int, what string) ([]byte, error) {
	if int64(n) > s.end-s.pos {
		return nil, truncErr("truncated pickle: %s at offset %d needs %d bytes, the input has %d left",
			what, s.pos, n, s.end-s.pos)
	}
	if s.pos < s.bufOff || s.pos+int64(n) > s.bufOff+int64(len(s.buf)) {
		k := min(int64(windowSize), s.end-s.pos)
		if int64(cap(s.buf)) < k {
			// Small inputs get a small window: the fuzzer runs many.
			s.buf = make([]byte, min(int64(windowSize), max(k, s.end-s.start)))
		}
		got, err := s.r.ReadAt(s.buf[:k], s.pos)
		if int64(got) < k {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			s.bufOff, s.buf = 0, s.buf[:0]
			return nil, ioErr(err, fmt.Sprintf("the pickle at offset %d", s.pos))
		}
		s.buf = s.buf[:k]
		s.bufOff = s.pos
	}
	i := s.pos - s.bufOff
	s.pos += int64(n)
	return s.buf[i : i+int64(n)], nil
}

// payload returns the next n bytes as a blob: copied if small, otherwise a
// reference into the input, skipped.
func (s *stream) payload(n int64, what string) (blob, error) {
	if n < 0 {
		return blob{}, formatErr("%s at offset %d has negative length %d", what, s.pos, n)
	}
	if n > s.end-s.pos {
		return blob{}, truncErr("truncated pickle: %s at offset %d announces %d bytes, the input has %d left",
			what, s.pos, n, s.end-s.pos)
	}
	if n <= smallPayload {
		b, err := s.need(int(n), what)
		if err != nil {
			return blob{}, err
		}
		return memBlob(append([]byte(nil), b...)), nil
	}
	bl := blob{inFile: true, off: s.pos, n: n}
	s.pos += n
	return bl, nil
}

// smallPayload is the largest str or bytes copied into memory as it is read.
const smallPayload = 4096

// line reads a protocol-0 text argument up to '\n'.
func (s *stream) line(what string) (string, error) {
	b, err := s.longLine(what, 256)
	return string(b), err
}

// maxTextLine bounds protocol 0's STRING and UNICODE arguments, which are
// read into memory: array data that size or larger comes in binary
// protocols.
const maxTextLine = 1 << 20

// longLine reads a protocol-0 argument of up to limit bytes up to '\n'.
func (s *stream) longLine(what string, limit int) ([]byte, error) {
	var out []byte
	start := s.pos
	for {
		if len(out) >= limit {
			return nil, formatErr("pickle %s at offset %d is longer than %d bytes", what, start, limit)
		}
		b, err := s.need(1, what)
		if err != nil {
			return nil, err
		}
		if b[0] == '\n' {
			return out, nil
		}
		out = append(out, b[0])
	}
}

// rawUnicodeEscape decodes Python's raw-unicode-escape (protocol 0's
// UNICODE): bytes are code points, except \uXXXX and \UXXXXXXXX.
func rawUnicodeEscape(b []byte) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') {
			n := 4
			if b[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(b) {
				return "", fmt.Errorf("truncated \\%c escape", b[i+1])
			}
			v, err := strconv.ParseUint(string(b[i+2:i+2+n]), 16, 32)
			if err != nil || v > unicode.MaxRune {
				return "", fmt.Errorf("bad \\%c escape %q", b[i+1], b[i+2:i+2+n])
			}
			sb.WriteRune(rune(v))
			i += 1 + n
			continue
		}
		sb.WriteRune(rune(c))
	}
	return sb.String(), nil
}

// pyStringLiteral decodes protocol 0's STRING argument: a quoted Python 2
// str literal with backslash escapes.
func pyStringLiteral(b []byte) ([]byte, error) {
	if len(b) < 2 || (b[0] != '\'' && b[0] != '"') || b[len(b)-1] != b[0] {
		return nil, errors.New("not a quoted string")
	}
	b = b[1 : len(b)-1]
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(b) {
			return nil, errors.New("trailing backslash")
		}
		switch e := b[i]; e {
		case '\\', '\'', '"':
			out = append(out, e)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'v':
			out = append(out, '\v')
		case '\n':
		case 'x':
			if i+3 > len(b) {
				return nil, errors.New("truncated \\x escape")
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x escape %q", b[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			if e >= '0' && e <= '7' {
				v, j := 0, i
				for j < len(b) && j < i+3 && b[j] >= '0' && b[j] <= '7' {
					v = v*8 + int(b[j]-'0')
					j++
				}
				out = append(out, byte(v))
				i = j - 1
				continue
			}
			out = append(out, '\\', e)
		}
	}
	return out, nil
}

// Limits on the machine's state, so that no input can make it hold more
// than a few MB besides blobs.
const (
	maxStack = 1 << 20
	maxMarks = 1 << 16
	maxMemo  = 1 << 20
)

// machine is the unpickler's state.
type machine struct {
	s     stream
	stack []any
	marks []int
	memo  map[int64]any
	proto int
	// torch, when set, runs a torch.save pickle: it allows the torch
	// globals, resolves persistent ids (BINPERSID) to storages and lets
	// BUILD set attributes on dicts (an OrderedDict's _metadata).
	torch *torchLoader
}

// unpickle runs the pickle that starts at off in r (size bytes in all) up to
// its STOP opcode and returns the object it made.
func unpickle(r io.ReaderAt, off, size int64) (any, error) {
	m := &machine{s: stream{r: r, start: off, pos: off, end: size}, memo: map[int64]any{}}
	return m.run()
}

var opNames = map[byte]string{
	'(': "MARK", '.': "STOP", '0': "POP", '1': "POP_MARK", '2': "DUP", 'F': "FLOAT", 'I': "INT",
	'J': "BININT", 'K': "BININT1", 'L': "LONG", 'M': "BININT2", 'N': "NONE", 'P': "PERSID",
	'Q': "BINPERSID", 'R': "REDUCE", 'S': "STRING", 'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	'V': "UNICODE", 'X': "BINUNICODE", 'a': "APPEND", 'b': "BUILD", 'c': "GLOBAL", 'd': "DICT",
	'}': "EMPTY_DICT", 'e': "APPENDS", 'g': "GET", 'h': "BINGET", 'i': "INST", 'j': "LONG_BINGET",
	'l': "LIST", ']': "EMPTY_LIST", 'o': "OBJ", 'p': "PUT", 'q': "BINPUT", 'r': "LONG_BINPUT",
	's': "SETITEM", 't': "TUPLE", ')': "EMPTY_TUPLE", 'u': "SETITEMS", 'G': "BINFLOAT",
	0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1",
	0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4",
	'B': "BINBYTES", 'C': "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8",
	0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX",
	0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
	0x98: "READONLY_BUFFER",
}

func (m *machine) push(x any) error {
	if len(m.stack) >= maxStack {
		return formatErr("pickle stack exceeds %d items at offset %d", maxStack, m.s.pos)
	}
	m.stack = append(m.stack, x)
	return nil
}

func (m *machine) pop(op string) (any, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1]) {
		return nil, formatErr("pickle opcode %s at offset %d pops an empty stack", op, m.s.pos-1)
	}
	x := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return x, nil
}

func (m *machine) top(op string) (any, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1]) {
		return nil, formatErr("pickle opcode %s at offset %d needs an object on the stack", op, m.s.pos-1)
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops the items above the topmost mark, and the mark.
func (m *machine) popMark(op string) ([]any, error) {
	if len(m.marks) == 0 {
		return nil, formatErr("pickle opcode %s at offset %d has no MARK", op, m.s.pos-1)
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := append([]any(nil), m.stack[k:]...)
	m.stack = m.stack[:k]
	return items, nil
}

func (m *machine) memoize(i int64, x any) error {
	if i < 0 {
		return formatErr("pickle memo index %d at offset %d is negative", i, m.s.pos)
	}
	if _, ok := m.memo[i]; !ok && len(m.memo) >= maxMemo {
		return formatErr("pickle memo exceeds %d entries at offset %d", maxMemo, m.s.pos)
	}
	m.memo[i] = x
	return nil
}

func (m *machine) recall(i int64, op string) error {
	x, ok := m.memo[i]
	if !ok {
		return formatErr("pickle opcode %s at offset %d fetches memo entry %d, which was never stored", op, m.s.pos, i)
	}
	return m.push(x)
}

func (m *machine) run() (any, error) {
	for {
		at := m.s.pos
		b, err := m.s.need(1, "opcode")
		if err != nil {
			if at == m.s.start {
				return nil, wrap(err, "not a pickle")
			}
			return nil, wrap(err, "no STOP opcode")
		}
		op := b[0]
		name, known := opNames[op]
		if !known {
			if at == m.s.start {
				return nil, formatErr("not a pickle: first byte 0x%02x at offset %d is no pickle opcode", op, at)
			}
			return nil, formatErr("bad pickle: byte 0x%02x at offset %d is no pickle opcode", op, at)
		}
		if op == '.' {
			if len(m.stack) == 0 {
				return nil, formatErr("pickle STOP at offset %d with an empty stack", at)
			}
			return m.stack[len(m.stack)-1], nil
		}
		if err := m.step(op, name); err != nil {
			return nil, err
		}
	}
}

// arg reads a fixed-size little-endian argument.
func (m *machine) arg(n int, name string) ([]byte, error) {
	return m.s.need(n, name)
}

func (m *machine) step(op byte, name string) error {
	switch op {
	case 0x80: // PROTO
		b, err := m.arg(1, name)
		if err != nil {
			return err
		}
		if b[0] > 5 {
			return formatErr("unsupported pickle protocol %d (want 0 to 5)", b[0])
		}
		m.proto = int(b[0])
	case 0x95: // FRAME: frames only help buffered readers; check the length and go on.
		b, err := m.arg(8, name)
		if err != nil {
			return err
		}
		if n := binary.LittleEndian.Uint64(b); n > uint64(m.s.end-m.s.pos) {
			return truncErr("truncated pickle: FRAME at offset %d announces %d bytes, the input has %d left",
				m.s.pos-9, n, m.s.end-m.s.pos)
		}
	case '(': // MARK
		if len(m.marks) >= maxMarks {
			return formatErr("pickle MARKs nest deeper than %d at offset %d", maxMarks, m.s.pos-1)
		}
		m.marks = append(m.marks, len(m.stack))
	case '0': // POP
		if len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1] {
			_, err := m.popMark(name)
			return err
		}
		_, err := m.pop(name)
		return err
	case '1': // POP_MARK
		_, err := m.popMark(name)
		return err
	case '2': // DUP
		x, err := m.top(name)
		if err != nil {
			return err
		}
		return m.push(x)
	case 'N':
		return m.push(pyNone{})
	case 0x88:
		return m.push(pyBool(true))
	case 0x89:
		return m.push(pyBool(false))
	case 'K':
		b, err := m.arg(1, name)
		if err != nil {
			return err
		}
		return m.push(pyInt(b[0]))
	case 'M':
		b, err := m.arg(2, name)
		if err != nil {
			return err
		}
		return m.push(pyInt(binary.LittleEndian.Uint16(b)))
	case 'J':
		b, err := m.arg(4, name)
		if err != nil {
			return err
		}
		return m.push(pyInt(int32(binary.LittleEndian.Uint32(b))))
	case 0x8a, 0x8b: // LONG1, LONG4: little-endian two's complement
		var n int64
		if op == 0x8a {
			b, err := m.arg(1, name)
			if err != nil {
				return err
			}
			n = int64(b[0])
		} else {
			b, err := m.arg(4, name)
			if err != nil {
				return err
			}
			n = int64(int32(binary.LittleEndian.Uint32(b)))
			if n < 0 {
				return formatErr("pickle %s at offset %d has negative length %d", name, m.s.pos-4, n)
			}
		}
		if n > 8 {
			return formatErr("pickle %s at offset %d: a %d-byte integer is too large", name, m.s.pos, n)
		}
		b, err := m.arg(int(n), name)
		if err != nil {
			return err
		}
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if n > 0 && n < 8 && b[n-1]&0x80 != 0 {
			v |= ^uint64(0) << (8 * n) // sign-extend
		}
		return m.push(pyInt(int64(v)))
	case 'S': // STRING (protocol 0): a quoted Python 2 str
		line, err := m.s.longLine(name, maxTextLine)
		if err != nil {
			return err
		}
		b, err := pyStringLiteral(line)
		if err != nil {
			return formatErr("pickle STRING at offset %d: %v", m.s.pos, err)
		}
		return m.push(pyBytes{memBlob(b)})
	case 'V': // UNICODE (protocol 0): raw-unicode-escape text
		line, err := m.s.longLine(name, maxTextLine)
		if err != nil {
			return err
		}
		str, err := rawUnicodeEscape(line)
		if err != nil {
			return formatErr("pickle UNICODE at offset %d: %v", m.s.pos, err)
		}
		return m.push(pyString{memBlob([]byte(str))})
	case 'I', 'L': // INT, LONG (protocol 0): decimal text
		s, err := m.s.line(name)
		if err != nil {
			return err
		}
		s = strings.TrimSuffix(s, "L")
		switch {
		case op == 'I' && s == "00":
			return m.push(pyBool(false))
		case op == 'I' && s == "01":
			return m.push(pyBool(true))
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return formatErr("pickle %s at offset %d: bad integer %q", name, m.s.pos, clip(s))
		}
		return m.push(pyInt(v))
	case 'F': // FLOAT (protocol 0)
		s, err := m.s.line(name)
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return formatErr("pickle %s at offset %d: bad float %q", name, m.s.pos, clip(s))
		}
		return m.push(pyFloat(v))
	case 'G': // BINFLOAT: big-endian
		b, err := m.arg(8, name)
		if err != nil {
			return err
		}
		return m.push(pyFloat(math.Float64frombits(binary.BigEndian.Uint64(b))))
	case 'U', 'C', 0x8c: // SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE
		b, err := m.arg(1, name)
		if err != nil {
			return err
		}
		return m.pushPayload(op, int64(b[0]), name)
	case 'T', 'B', 'X': // BINSTRING (signed), BINBYTES, BINUNICODE: 4-byte length
		b, err := m.arg(4, name)
		if err != nil {
			return err
		}
		n := int64(binary.LittleEndian.Uint32(b))
		if op == 'T' {
			n = int64(int32(n))
		}
		return m.pushPayload(op, n, name)
	case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
		b, err := m.arg(8, name)
		if err != nil {
			return err
		}
		n := binary.LittleEndian.Uint64(b)
		if n > math.MaxInt64 {
			return formatErr("pickle %s at offset %d: length %d is too large", name, m.s.pos-8, n)
		}
		return m.pushPayload(op, int64(n), name)
	case ')':
		return m.push(pyTuple(nil))
	case 0x85, 0x86, 0x87: // TUPLE1-3
		n := int(op - 0x84)
		if len(m.stack) < n || (len(m.marks) > 0 && len(m.stack)-n < m.marks[len(m.marks)-1]) {
			return formatErr("pickle %s at offset %d needs %d objects on the stack", name, m.s.pos-1, n)
		}
		t := append(pyTuple(nil), m.stack[len(m.stack)-n:]...)
		m.stack = m.stack[:len(m.stack)-n]
		return m.push(t)
	case 't':
		items, err := m.popMark(name)
		if err != nil {
			return err
		}
		return m.push(pyTuple(items))
	case ']':
		return m.push(&pyList{})
	case 'l':
		items, err := m.popMark(name)
		if err != nil {
			return err
		}
		return m.push(&pyList{items: items})
	case '}':
		return m.push(newDict())
	case 'd':
		items, err := m.popMark(name)
		if err != nil {
			return err
		}
		d := newDict()
		if err := m.setItems(d, items, name); err != nil {
			return err
		}
		return m.push(d)
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		if op == 'a' {
			x, err := m.pop(name)
			if err != nil {
				return err
			}
			items = []any{x}
		} else {
			var err error
			if items, err = m.popMark(name); err != nil {
				return err
			}
		}
		x, err := m.top(name)
		if err != nil {
			return err
		}
		l, ok := x.(*pyList)
		if !ok {
			return formatErr("pickle %s at offset %d appends to %s, not a list", name, m.s.pos-1, aType(x))
		}
		l.items = append(l.items, items...)
	case 's', 'u': // SETITEM, SETITEMS
		var items []any
		if op == 's' {
			v, err := m.pop(name)
			if err != nil {
				return err
			}
			k, err := m.pop(name)
			if err != nil {
				return err
			}
			items = []any{k, v}
		} else {
			var err error
			if items, err = m.popMark(name); err != nil {
				return err
			}
		}
		x, err := m.top(name)
		if err != nil {
			return err
		}
		d, ok := x.(*pyDict)
		if !ok {
			return formatErr("pickle %s at offset %d sets items of %s, not a dict", name, m.s.pos-1, aType(x))
		}
		return m.setItems(d, items, name)
	case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
		x, err := m.top(name)
		if err != nil {
			return err
		}
		var i int64
		switch op {
		case 'q':
			b, err := m.arg(1, name)
			if err != nil {
				return err
			}
			i = int64(b[0])
		case 'r':
			b, err := m.arg(4, name)
			if err != nil {
				return err
			}
			i = int64(binary.LittleEndian.Uint32(b))
		default:
			i = int64(len(m.memo))
		}
		return m.memoize(i, x)
	case 'p': // PUT (protocol 0)
		x, err := m.top(name)
		if err != nil {
			return err
		}
		s, err := m.s.line(name)
		if err != nil {
			return err
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return formatErr("pickle PUT at offset %d: bad index %q", m.s.pos, clip(s))
		}
		return m.memoize(i, x)
	case 'h':
		b, err := m.arg(1, name)
		if err != nil {
			return err
		}
		return m.recall(int64(b[0]), name)
	case 'j':
		b, err := m.arg(4, name)
		if err != nil {
			return err
		}
		return m.recall(int64(binary.LittleEndian.Uint32(b)), name)
	case 'g':
		s, err := m.s.line(name)
		if err != nil {
			return err
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return formatErr("pickle GET at offset %d: bad index %q", m.s.pos, clip(s))
		}
		return m.recall(i, name)
	case 'c': // GLOBAL: "module\nname\n"
		mod, err := m.s.line(name)
		if err != nil {
			return err
		}
		nm, err := m.s.line(name)
		if err != nil {
			return err
		}
		return m.global(mod, nm)
	case 0x93: // STACK_GLOBAL
		nx, err := m.pop(name)
		if err != nil {
			return err
		}
		mx, err := m.pop(name)
		if err != nil {
			return err
		}
		mod, ok1 := mx.(pyString)
		nm, ok2 := nx.(pyString)
		if !ok1 || !ok2 {
			return formatErr("pickle STACK_GLOBAL at offset %d: module and name are %s and %s, not str",
				m.s.pos-1, typeName(mx), typeName(nx))
		}
		ms, ok1 := text(mod)
		ns, ok2 := text(nm)
		if !ok1 || !ok2 {
			return formatErr("pickle STACK_GLOBAL at offset %d: name too long", m.s.pos-1)
		}
		return m.global(ms, ns)
	case 'R': // REDUCE
		args, err := m.pop(name)
		if err != nil {
			return err
		}
		fn, err := m.pop(name)
		if err != nil {
			return err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return formatErr("pickle REDUCE at offset %d: arguments are %s, not a tuple", m.s.pos-1, aType(args))
		}
		x, err := m.call(fn, t)
		if err != nil {
			return wrap(err, "pickle REDUCE at offset %d", m.s.pos-1)
		}
		return m.push(x)
	case 0x81, 0x92: // NEWOBJ, NEWOBJ_EX: cls.__new__(cls, *args)
		if op == 0x92 {
			kw, err := m.pop(name)
			if err != nil {
				return err
			}
			if d, ok := kw.(*pyDict); !ok || len(d.keys) != 0 {
				return formatErr("pickle NEWOBJ_EX at offset %d: keyword arguments %s are not supported", m.s.pos-1, typeName(kw))
			}
		}
		args, err := m.pop(name)
		if err != nil {
			return err
		}
		cls, err := m.pop(name)
		if err != nil {
			return err
		}
		if g, ok := cls.(pyGlobal); ok && g.module == "collections" && g.name == "OrderedDict" {
			return m.push(newDict())
		}
		return formatErr("pickle %s at offset %d: cannot create a %s (args %s)", name, m.s.pos-1, typeName(cls), typeName(args))
	case 'Q': // BINPERSID
		pid, err := m.pop(name)
		if err != nil {
			return err
		}
		if m.torch == nil {
			return formatErr("pickle BINPERSID at offset %d: persistent ids are not supported here", m.s.pos-1)
		}
		x, err := m.torch.persistentLoad(pid)
		if err != nil {
			return wrap(err, "pickle BINPERSID at offset %d", m.s.pos-1)
		}
		return m.push(x)
	case 'b': // BUILD
		state, err := m.pop(name)
		if err != nil {
			return err
		}
		x, err := m.top(name)
		if err != nil {
			return err
		}
		if err := m.build(x, state); err != nil {
			return wrap(err, "pickle BUILD at offset %d", m.s.pos-1)
		}
	default:
		return formatErr("pickle opcode %s (0x%02x) at offset %d is not supported", name, op, m.s.pos-1)
	}
	return nil
}

func (m *machine) pushPayload(op byte, n int64, name string) error {
	b, err := m.s.payload(n, name)
	if err != nil {
		return err
	}
	switch op {
	case 'X', 0x8c, 0x8d:
		if !b.inFile && !utf8.Valid(b.mem) {
			return formatErr("pickle %s at offset %d is not valid UTF-8", name, m.s.pos-n)
		}
		return m.push(pyString{b})
	}
	return m.push(pyBytes{b})
}

func (m *machine) setItems(d *pyDict, items []any, name string) error {
	if len(items)%2 != 0 {
		return formatErr("pickle %s at offset %d has an odd number (%d) of keys and values", name, m.s.pos-1, len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return wrap(err, "pickle %s at offset %d", name, m.s.pos-1)
		}
	}
	return nil
}

// Whitelisted globals: what a pickled dict of numpy arrays may name.
var allowedGlobals = map[string]bool{
	"numpy.core.multiarray._reconstruct":  true,
	"numpy._core.multiarray._reconstruct": true,
	"numpy.core.numeric._frombuffer":      true,
	"numpy._core.numeric._frombuffer":     true,
	"numpy.ndarray":                       true,
	"numpy.dtype":                         true,
	"_codecs.encode":                      true,
	"__builtin__.bytes":                   true,
	"builtins.bytes":                      true,
	"__builtin__.bytearray":               true,
	"builtins.bytearray":                  true,
	"collections.OrderedDict":             true,
}

func (m *machine) global(mod, name string) error {
	full := mod + "." + name
	if m.torch != nil && torchGlobal(full) {
		return m.push(pyGlobal{module: mod, name: name})
	}
	if !allowedGlobals[full] {
		allowed := "only numpy arrays and dtypes, bytes and dicts are"
		if m.torch != nil {
			allowed = "only tensors, storages, dtypes and dicts are"
		}
		return formatErr("pickle at offset %d uses global %s, which is not allowed (%s)", m.s.pos-1, clip(full), allowed)
	}
	return m.push(pyGlobal{module: mod, name: name})
}

// call applies a whitelisted global to args.
func (m *machine) call(fn any, args pyTuple) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, formatErr("cannot call %s", aType(fn))
	}
	switch g.module + "." + g.name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		// _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills.
		if len(args) != 3 {
			return nil, formatErr("%s takes 3 arguments, got %d", g.name, len(args))
		}
		if c, ok := args[0].(pyGlobal); !ok || c.module != "numpy" || c.name != "ndarray" {
			return nil, formatErr("%s of %s, want numpy.ndarray", g.name, aType(args[0]))
		}
		return &pyArray{}, nil
	case "numpy.dtype":
		if len(args) < 1 || len(args) > 3 {
			return nil, formatErr("numpy.dtype takes 1 to 3 arguments, got %d", len(args))
		}
		s, ok := text(args[0])
		if !ok {
			return nil, formatErr("numpy.dtype of %s, want a type string", aType(args[0]))
		}
		dt, err := parseDescr(s)
		if err != nil {
			return nil, err
		}
		return &pyDType{dt: dt}, nil
	case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer":
		return m.fromBuffer(args)
	case "_codecs.encode":
		if len(args) != 2 {
			return nil, formatErr("_codecs.encode takes 2 arguments here, got %d", len(args))
		}
		return m.encode(args[0], args[1])
	case "__builtin__.bytes", "builtins.bytes", "__builtin__.bytearray", "builtins.bytearray":
		switch len(args) {
		case 0:
			return pyBytes{}, nil
		case 1:
			if b, ok := args[0].(pyBytes); ok {
				return b, nil
			}
		case 2:
			return m.encode(args[0], args[1])
		}
		return nil, formatErr("%s.%s of %s is not supported", g.module, g.name, typeName(args))
	case "collections.OrderedDict":
		d := newDict()
		if len(args) == 0 {
			return d, nil
		}
		if len(args) == 1 {
			if l, ok := args[0].(*pyList); ok {
				for _, it := range l.items {
					kv, ok := it.(pyTuple)
					if !ok || len(kv) != 2 {
						return nil, formatErr("OrderedDict item is %s, not a (key, value) pair", aType(it))
					}
					if err := d.set(kv[0], kv[1]); err != nil {
						return nil, err
					}
				}
				return d, nil
			}
		}
		return nil, formatErr("OrderedDict of %s is not supported", typeName(args))
	}
	if m.torch != nil {
		if x, ok, err := m.torchCall(g, args); ok {
			return x, err
		}
	}
	return nil, formatErr("cannot call %s", typeName(g))
}

func (m *machine) encode(s, enc any) (any, error) {
	e, ok := text(enc)
	if !ok {
		return nil, formatErr("_codecs.encode with encoding %s", typeName(enc))
	}
	switch strings.ReplaceAll(strings.ToLower(e), "_", "-") {
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1":
	default:
		return nil, formatErr("_codecs.encode with encoding %q, want latin1", clip(e))
	}
	str, ok := s.(pyString)
	if !ok {
		return nil, formatErr("_codecs.encode of %s, want a str", aType(s))
	}
	return m.latin1(str)
}

// fromBuffer implements _frombuffer(buf, dtype, shape, order), numpy's
// protocol-5 reduction of contiguous arrays.
func (m *machine) fromBuffer(args pyTuple) (any, error) {
	if len(args) != 4 {
		return nil, formatErr("_frombuffer takes 4 arguments, got %d", len(args))
	}
	buf, ok := args[0].(pyBytes)
	if !ok {
		return nil, formatErr("_frombuffer of %s, want bytes", aType(args[0]))
	}
	dt, ok := args[1].(*pyDType)
	if !ok {
		return nil, formatErr("_frombuffer with dtype %s", typeName(args[1]))
	}
	order, _ := text(args[3])
	if order != "C" && order != "F" && order != "A" && order != "K" {
		return nil, formatErr("_frombuffer with order %s", typeName(args[3]))
	}
	a := &pyArray{dt: dt.dt, fortran: order == "F", raw: buf.b}
	if err := a.setShape(args[2]); err != nil {
		return nil, err
	}
	if err := a.checkData(); err != nil {
		return nil, err
	}
	a.built = true
	return a, nil
}

// setShape sets a's shape from a tuple of ints.
func (a *pyArray) setShape(x any) error {
	t, ok := x.(pyTuple)
	if !ok {
		return formatErr("array shape is %s, not a tuple", aType(x))
	}
	if len(t) > 64 {
		return formatErr("array shape has %d dimensions (at most 64)", len(t))
	}
	a.shape = make([]int, len(t))
	for i, d := range t {
		n, ok := d.(pyInt)
		if !ok {
			return formatErr("array shape holds %s, not an int", aType(d))
		}
		if n < 0 || int64(n) > maxElems {
			return formatErr("array shape has dimension %d", n)
		}
		a.shape[i] = int(n)
	}
	var err error
	a.count, err = elemCount(a.shape)
	return err
}

// checkData checks that the raw data length matches shape and dtype, for the
// dtypes this package reads; others fail later, when used, with ErrDType.
func (a *pyArray) checkData() error {
	if !a.dt.isFloat() {
		return nil
	}
	want := int64(a.count) * int64(a.dt.size)
	if a.raw.n != want {
		return formatErr("array data has %d bytes, but shape %v of %s needs %d", a.raw.n, a.shape, a.dt.name(), want)
	}
	return nil
}

// build applies BUILD's state to x.
func (m *machine) build(x, state any) error {
	switch x := x.(type) {
	case *pyArray:
		if x.built {
			return formatErr("array is built twice")
		}
		// (version, shape, dtype, is_fortran, rawdata), or without version.
		t, ok := state.(pyTuple)
		if ok && len(t) == 5 {
			t = t[1:]
		}
		if !ok || len(t) != 4 {
			return formatErr("ndarray state is %s, want (version, shape, dtype, is_fortran, rawdata)", aType(state))
		}
		if err := x.setShape(t[0]); err != nil {
			return err
		}
		dt, ok := t[1].(*pyDType)
		if !ok {
			return formatErr("ndarray state's dtype is %s", aType(t[1]))
		}
		x.dt = dt.dt
		switch f := t[2].(type) {
		case pyBool:
			x.fortran = bool(f)
		case pyInt:
			x.fortran = f != 0
		default:
			return formatErr("ndarray state's is_fortran is %s", aType(t[2]))
		}
		switch raw := t[3].(type) {
		case pyBytes:
			x.raw = raw.b
		case pyString: // a Python 2 str read as text: numpy encodes it latin1
			b, err := m.latin1(raw)
			if err != nil {
				return err
			}
			x.raw = b.b
		case *pyList:
			if x.dt.kind != 'O' {
				return formatErr("ndarray of %s holds a list, not bytes", x.dt.name())
			}
			if len(raw.items) != x.count {
				return formatErr("object array of shape %v holds %d items", x.shape, len(raw.items))
			}
			x.objs = raw.items
		default:
			return formatErr("ndarray state's data is %s", aType(t[3]))
		}
		if x.dt.kind == 'O' && x.objs == nil && x.count > 0 {
			return formatErr("object array of shape %v holds bytes, not a list", x.shape)
		}
		if err := x.checkData(); err != nil {
			return err
		}
		x.built = true
		return nil
	case *pyDType:
		// (version, endian, subarray, names, fields, elsize, alignment, flags[, metadata])
		t, ok := state.(pyTuple)
		if !ok || len(t) < 2 {
			return formatErr("dtype state is %s, want (version, endian, ...)", aType(state))
		}
		e, ok := text(t[1])
		if !ok || len(e) != 1 || strings.IndexByte("<>|=", e[0]) < 0 {
			return formatErr("dtype state's byte order is %s", typeName(t[1]))
		}
		x.dt.order = e[0]
		if len(t) >= 4 {
			if _, none := t[2].(pyNone); !none {
				return dtypeErr("unsupported dtype: subarray dtype %s", x.dt.String())
			}
			if _, none := t[3].(pyNone); !none {
				return dtypeErr("unsupported dtype: structured dtype %s", x.dt.String())
			}
		}
		return nil
	case *pyDict:
		if _, none := state.(pyNone); none {
			return nil
		}
		if d, ok := state.(*pyDict); ok && (len(d.keys) == 0 || m.torch != nil) {
			// Attributes, as torch's state dicts carry _metadata: the
			// dict's items are what is read.
			return nil
		}
		return formatErr("dict state %s is not supported", typeName(state))
	}
	return formatErr("cannot BUILD %s", aType(x))
}
