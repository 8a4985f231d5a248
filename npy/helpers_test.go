package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// pickleWriter writes Python-2-style pickles of numpy arrays by hand, for
// tests that need shapes or sizes the fixtures do not have.
type pickleWriter struct {
	b    bytes.Buffer
	text bool // strs as protocol 0's STRING
}

func (p *pickleWriter) ops(s string) { p.b.WriteString(s) }

// str writes a Python 2 str: SHORT_BINSTRING or BINSTRING, or with text
// set, protocol 0's STRING.
func (p *pickleWriter) str(s string) {
	if p.text {
		p.b.WriteString("S'")
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' || c == '\'':
				p.b.WriteByte('\\')
				p.b.WriteByte(c)
			case c == '\n':
				p.b.WriteString("\\n")
			case c >= 0x20 && c < 0x7f:
				p.b.WriteByte(c)
			case c%3 == 0:
				fmt.Fprintf(&p.b, "\\%03o", c) // octal, as old Pythons wrote
			default:
				fmt.Fprintf(&p.b, "\\x%02x", c)
			}
		}
		p.b.WriteString("'\n")
		return
	}
	if len(s) < 256 {
		p.b.WriteByte('U')
		p.b.WriteByte(byte(len(s)))
	} else {
		p.b.WriteByte('T')
		p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	}
	p.b.WriteString(s)
}

func (p *pickleWriter) int(n int) {
	p.b.WriteByte('J')
	p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
}

// dtype writes numpy.dtype('f4', 0, 1) with its little-endian state.
func (p *pickleWriter) dtype() {
	p.ops("cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
}

// array writes a float32 array of shape with raw little-endian data.
func (p *pickleWriter) array(shape []int, data []byte) {
	p.ops("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R(K\x01(")
	for _, d := range shape {
		p.int(d)
	}
	p.ops("t")
	p.dtype()
	p.ops("\x89")
	p.str(string(data))
	p.ops("tb")
}

// layer writes the key name and a list [W, b] whose items body writes.
func (p *pickleWriter) layer(name string, body func()) {
	p.str(name)
	p.ops("](")
	body()
	p.ops("e")
}

// npy returns the pickle, behind PROTO 2, in an .npy of a 0-d object array
// (the object array wrapper is left out: readers accept the dict itself).
func (p *pickleWriter) npy() []byte {
	d := "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
	d += strings.Repeat(" ", (64-(10+len(d)+1)%64)%64) + "\n"
	var out bytes.Buffer
	out.WriteString(magic + "\x01\x00")
	out.Write(binary.LittleEndian.AppendUint16(nil, uint16(len(d))))
	out.WriteString(d)
	out.WriteString("\x80\x02")
	out.Write(p.b.Bytes())
	return out.Bytes()
}
