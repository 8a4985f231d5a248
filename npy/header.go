package npy

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// magic starts every .npy file.
const magic = "\x93NUMPY"

// maxHeaderLen bounds the header dictionary. numpy itself refuses headers
// over 10000 bytes unless told otherwise; a float array's is under 128.
const maxHeaderLen = 1 << 16

// header is a parsed .npy header.
type header struct {
	dt      dtype
	fortran bool
	shape   []int
	count   int   // elements
	dataOff int64 // bytes from the start of the file to the data
}

// readHeader reads the magic, version and header dictionary from r. remain is
// the number of bytes r holds, or -1 if unknown.
func readHeader(r io.Reader, remain int64) (header, error) {
	var pre [12]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		if err == io.EOF {
			return header{}, truncErr("truncated: empty input, no npy magic")
		}
		return header{}, ioErr(err, "the npy magic (8 bytes)")
	}
	if string(pre[:6]) != magic {
		return header{}, formatErr("not an npy file: bad magic %q, want %q", pre[:6], magic)
	}
	major, minor := pre[6], pre[7]
	var hlen, pos int64
	switch {
	case major == 1 && minor == 0:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return header{}, ioErr(err, "the npy header length")
		}
		hlen, pos = int64(binary.LittleEndian.Uint16(pre[8:10])), 10
	case (major == 2 || major == 3) && minor == 0:
		if _, err := io.ReadFull(r, pre[8:12]); err != nil {
			return header{}, ioErr(err, "the npy header length")
		}
		hlen, pos = int64(binary.LittleEndian.Uint32(pre[8:12])), 12
	default:
		return header{}, formatErr("unsupported npy format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if hlen > maxHeaderLen {
		return header{}, formatErr("npy header length %d exceeds the limit of %d bytes", hlen, maxHeaderLen)
	}
	if remain >= 0 && pos+hlen > remain {
		return header{}, truncErr("truncated npy header: it claims %d bytes, the input has %d after the magic",
			hlen, remain-pos)
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(r, text); err != nil {
		return header{}, ioErr(err, fmt.Sprintf("the npy header (%d bytes at offset %d)", hlen, pos))
	}
	h, err := parseHeader(string(text))
	if err != nil {
		return header{}, err
	}
	h.dataOff = pos + hlen
	return h, nil
}

// parseHeader parses the header dictionary literal,
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".
func parseHeader(text string) (header, error) {
	p := &litParser{s: text}
	v, err := p.value(0)
	if err != nil {
		return header{}, formatErr("bad npy header: %v in %q", err, clip(text))
	}
	p.space()
	if p.i != len(p.s) {
		return header{}, formatErr("bad npy header: unexpected %q after the dictionary", clip(p.s[p.i:]))
	}
	d, ok := v.(litDict)
	if !ok {
		return header{}, formatErr("bad npy header: not a dictionary: %q", clip(text))
	}
	var h header
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if _, ok := d[k]; !ok {
			return header{}, formatErr("bad npy header: missing key '%s' in %q", k, clip(text))
		}
	}
	if len(d) != 3 {
		for k := range d {
			if k != "descr" && k != "fortran_order" && k != "shape" {
				return header{}, formatErr("bad npy header: unexpected key '%s'", clip(k))
			}
		}
	}
	switch descr := d["descr"].(type) {
	case string:
		if h.dt, err = parseDescr(descr); err != nil {
			return header{}, err
		}
	case litSeq:
		return header{}, dtypeErr("unsupported dtype: structured array %s", clip(fmt.Sprint(descr)))
	default:
		return header{}, formatErr("bad npy header: 'descr' is %v, not a string", d["descr"])
	}
	fo, ok := d["fortran_order"].(bool)
	if !ok {
		return header{}, formatErr("bad npy header: 'fortran_order' is %v, not True or False", d["fortran_order"])
	}
	h.fortran = fo
	shape, ok := d["shape"].(litSeq)
	if !ok || !shape.tuple {
		return header{}, formatErr("bad npy header: 'shape' is %v, not a tuple", d["shape"])
	}
	if len(shape.items) > 64 {
		return header{}, formatErr("bad npy header: shape has %d dimensions (at most 64)", len(shape.items))
	}
	h.shape = make([]int, len(shape.items))
	for i, x := range shape.items {
		n, ok := x.(int64)
		if !ok {
			return header{}, formatErr("bad npy header: shape %v holds %v, not an integer", shape, x)
		}
		if n < 0 {
			return header{}, formatErr("bad npy header: negative dimension %d in shape %v", n, shape)
		}
		if n > maxElems {
			return header{}, formatErr("bad npy header: dimension %d in shape %v is too large", n, shape)
		}
		h.shape[i] = int(n)
	}
	if h.count, err = elemCount(h.shape); err != nil {
		return header{}, wrap(err, "bad npy header")
	}
	return h, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Values of the Python literals in a header: string, int64, bool, nil,
// litSeq, litDict.
type (
	litDict map[string]any
	litSeq  struct {
		items []any
		tuple bool
	}
)

func (s litSeq) String() string {
	parts := make([]string, len(s.items))
	for i, x := range s.items {
		parts[i] = fmt.Sprint(x)
	}
	if s.tuple {
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// litParser parses the subset of Python literal syntax numpy writes in
// headers: dicts with string keys, tuples, lists, strings, integers (with
// Python 2's L suffix), True, False, None.
type litParser struct {
	s string
	i int
}

func (p *litParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n\x00", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *litParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{p.i}, args...)...)
}

// value parses one literal; depth bounds nesting.
func (p *litParser) value(depth int) (any, error) {
	if depth > 16 {
		return nil, p.errorf("nested too deeply")
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		d := litDict{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return d, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, p.errorf("dictionary key %v is not a string", k)
			}
			if _, dup := d[ks]; dup {
				return nil, p.errorf("duplicate key '%s'", clip(ks))
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, p.errorf("missing ':' after key '%s'", clip(ks))
			}
			p.i++
			if d[ks], err = p.value(depth + 1); err != nil {
				return nil, err
			}
			if err := p.sep('}'); err != nil {
				return nil, err
			}
		}
	case c == '(' || c == '[':
		end := byte(')')
		if c == '[' {
			end = ']'
		}
		p.i++
		seq := litSeq{tuple: c == '('}
		commas := 0
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				if seq.tuple && len(seq.items) == 1 && commas == 0 {
					return seq.items[0], nil // (x) is x, not a tuple
				}
				return seq, nil
			}
			x, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if len(seq.items) >= 1<<10 {
				return nil, p.errorf("sequence too long")
			}
			seq.items = append(seq.items, x)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				commas++
			}
			if err := p.sep(end); err != nil {
				return nil, err
			}
		}
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || (c >= '0' && c <= '9'):
		j := p.i + 1
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		n, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil {
			return nil, p.errorf("bad integer %q", clip(p.s[p.i:j]))
		}
		p.i = j
		if p.i < len(p.s) && (p.s[p.i] == 'L' || p.s[p.i] == 'l') {
			p.i++ // Python 2 long
		}
		return n, nil
	}
	for _, w := range []struct {
		word string
		v    any
	}{{"True", true}, {"False", false}, {"None", nil}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			p.i += len(w.word)
			return w.v, nil
		}
	}
	return nil, p.errorf("unexpected %q", clip(p.s[p.i:]))
}

// sep consumes a ',' or sees the closing end.
func (p *litParser) sep(end byte) error {
	p.space()
	if p.i >= len(p.s) {
		return p.errorf("unexpected end, want ',' or '%c'", end)
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return nil
	case end:
		return nil
	}
	return p.errorf("unexpected %q, want ',' or '%c'", clip(p.s[p.i:]), end)
}

// str parses a quoted string with Python's simple backslash escapes.
func (p *litParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == q:
			return b.String(), nil
		case c == '\\' && p.i < len(p.s):
			e := p.s[p.i]
			p.i++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '\'', '"':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case c == '\n':
			return "", p.errorf("newline in string")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

// headerBytes returns the magic, version and padded header for a
// little-endian float32 C-order array of shape, as numpy 1.x writes it: the
// data starts at a multiple of 64 bytes.
func headerBytes(shape []int) []byte { return headerBytesOf("<f4", shape) }

// headerBytesOf is the .npy header of a C-ordered array of descr.
func headerBytesOf(descr string, shape []int) []byte {
	var sb strings.Builder
	sb.WriteString("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sb.WriteByte(',')
	}
	sb.WriteString("), }")
	dict := sb.String()
	pre := 10
	version := byte(1)
	if len(dict)+1+pre > 0xffff+pre {
		pre, version = 12, 2
	}
	pad := (64 - (pre+len(dict)+1)%64) % 64
	hlen := len(dict) + pad + 1
	out := make([]byte, 0, pre+hlen)
	out = append(out, magic...)
	out = append(out, version, 0)
	if version == 1 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
	}
	out = append(out, dict...)
	out = append(out, strings.Repeat(" ", pad)...)
	return append(out, '\n')
}
