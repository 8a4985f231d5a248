package npy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const fixtureDir = "../testdata/npy"

// fixtures mirrors testdata/npy/fixtures.json, written by gen.py.
type fixtures struct {
	Layers  map[string]map[string]map[string]want `json:"layers"` // dtype -> layer -> "W"/"b"
	Weights []struct {
		File   string `json:"file"`
		Values string `json:"values"`
	} `json:"weights"`
	Arrays []struct {
		File string `json:"file"`
		want
	} `json:"arrays"`
	Errors []struct {
		File     string `json:"file"`
		Reader   string `json:"reader"`
		Sentinel string `json:"sentinel"`
		Contains string `json:"contains"`
	} `json:"errors"`
}

// want is an expected array: its shape and float32 bit patterns.
type want struct {
	Shape []int    `json:"shape"`
	Bits  []uint32 `json:"bits"`
}

func loadFixtures(t testing.TB) fixtures {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkArray compares a with w bit for bit (NaN payloads and -0 included).
func checkArray(t *testing.T, what string, a Array, w want) {
	t.Helper()
	if !slices.Equal(a.Shape, w.Shape) && !(len(a.Shape) == 0 && len(w.Shape) == 0) {
		t.Errorf("%s: shape got %v, want %v", what, a.Shape, w.Shape)
		return
	}
	if len(a.Data) != len(w.Bits) {
		t.Errorf("%s: got %d values, want %d", what, len(a.Data), len(w.Bits))
		return
	}
	for i, v := range a.Data {
		if got := math.Float32bits(v); got != w.Bits[i] {
			t.Errorf("%s[%d]: got %v (%#08x), want %v (%#08x)", what, i, v, got,
				math.Float32frombits(w.Bits[i]), w.Bits[i])
			return
		}
	}
}

func TestWeightFixtures(t *testing.T) {
	fx := loadFixtures(t)
	if len(fx.Weights) < 30 {
		t.Fatalf("only %d weight fixtures", len(fx.Weights))
	}
	for _, w := range fx.Weights {
		t.Run(w.File, func(t *testing.T) {
			path := filepath.Join(fixtureDir, w.File)
			got, err := ReadWeights(path)
			if err != nil {
				t.Fatal(err)
			}
			wantLayers := fx.Layers[w.Values]
			if len(got) != len(wantLayers) {
				t.Errorf("got %d layers, want %d", len(got), len(wantLayers))
			}
			for name, wl := range wantLayers {
				l, ok := got[name]
				if !ok {
					t.Errorf("layer %q missing", name)
					continue
				}
				checkArray(t, name+" W", l.W, wl["W"])
				checkArray(t, name+" b", l.B, wl["b"])
			}
			// From memory, as the fuzzer calls it.
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mem, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("DecodeWeights: %v", err)
			}
			for name, l := range got {
				if !slices.Equal(mem[name].W.Data, l.W.Data) && !hasNaN(l.W.Data) {
					t.Errorf("DecodeWeights and ReadWeights differ in %s", name)
				}
			}
		})
	}
}

func hasNaN(f []float32) bool {
	return slices.ContainsFunc(f, func(v float32) bool { return v != v })
}

func TestArrayFixtures(t *testing.T) {
	fx := loadFixtures(t)
	for _, a := range fx.Arrays {
		t.Run(a.File, func(t *testing.T) {
			path := filepath.Join(fixtureDir, a.File)
			got, err := ReadNPYFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkArray(t, "ReadNPYFile", got, a.want)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err = ReadNPY(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			checkArray(t, "ReadNPY(bytes.Reader)", got, a.want)
			// A reader that hides its length takes the growing path.
			got, err = ReadNPY(struct{ io.Reader }{bytes.NewReader(b)})
			if err != nil {
				t.Fatal(err)
			}
			checkArray(t, "ReadNPY(stream)", got, a.want)
		})
	}
}

func TestErrorFixtures(t *testing.T) {
	fx := loadFixtures(t)
	sentinels := map[string]error{"ErrFormat": ErrFormat, "ErrTruncated": ErrTruncated, "ErrDType": ErrDType}
	for _, e := range fx.Errors {
		t.Run(e.File, func(t *testing.T) {
			path := filepath.Join(fixtureDir, e.File)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var errs []error
			if e.Reader == "weights" {
				_, err1 := ReadWeights(path)
				_, err2 := DecodeWeights(bytes.NewReader(b), int64(len(b)))
				errs = []error{err1, err2}
			} else {
				_, err1 := ReadNPYFile(path)
				_, err2 := ReadNPY(bytes.NewReader(b))
				_, err3 := ReadNPY(struct{ io.Reader }{bytes.NewReader(b)})
				errs = []error{err1, err2}
				if e.Sentinel != "ErrTruncated" || !strings.Contains(e.Contains, "needs") {
					// Without a length, a header's claim is only found out when the data runs out.
					errs = append(errs, err3)
				} else if !errors.Is(err3, ErrTruncated) {
					t.Errorf("ReadNPY(stream): got %v, want ErrTruncated", err3)
				}
			}
			for i, err := range errs {
				if err == nil {
					t.Fatalf("reader %d: no error", i)
				}
				if !errors.Is(err, sentinels[e.Sentinel]) {
					t.Errorf("reader %d: %v is not %s", i, err, e.Sentinel)
				}
				if e.Sentinel == "ErrTruncated" && !errors.Is(err, ErrFormat) {
					t.Errorf("reader %d: %v is ErrTruncated but not ErrFormat", i, err)
				}
				if !strings.Contains(err.Error(), e.Contains) && i < 2 {
					t.Errorf("reader %d: got %q, want it to contain %q", i, err, e.Contains)
				}
				if !strings.HasPrefix(err.Error(), "npy: ") || strings.Contains(err.Error(), "npy: npy: ") {
					t.Errorf("reader %d: %q should start with one \"npy: \"", i, err)
				}
			}
			t.Log(errs[0])
		})
	}
}

func TestWriteNPYRoundTrip(t *testing.T) {
	for _, shape := range [][]int{nil, {0}, {7}, {2, 3}, {3, 1, 5}, {2, 0, 4}, {1, 1, 1, 1, 1}} {
		n, _ := elemCount(shape)
		a := Array{Shape: shape, Data: make([]float32, n)}
		for i := range a.Data {
			a.Data[i] = float32(i)*0.25 - 3
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, a); err != nil {
			t.Fatal(err)
		}
		if buf.Len()-len(a.Data)*4 < 64 || (buf.Len()-len(a.Data)*4)%64 != 0 {
			t.Errorf("shape %v: header of %d bytes, want a multiple of 64", shape, buf.Len()-len(a.Data)*4)
		}
		got, err := ReadNPY(&buf)
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		if len(got.Shape) != len(shape) || !slices.Equal(got.Shape, append([]int{}, shape...)) && len(shape) > 0 ||
			!slices.Equal(got.Data, a.Data) {
			t.Errorf("shape %v: got %v %v, want %v %v", shape, got.Shape, got.Data, shape, a.Data)
		}
	}
	if err := WriteNPY(io.Discard, Array{Shape: []int{2, 2}, Data: make([]float32, 3)}); err == nil {
		t.Error("WriteNPY accepted 3 values for shape [2 2]")
	}
	if err := WriteNPY(io.Discard, Array{Shape: []int{-1}}); err == nil {
		t.Error("WriteNPY accepted a negative dimension")
	}
}

func TestWriteNPZRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.npz")
	names := []string{"conv1_1_W", "conv1_1_b", "fc6/0", "fc6/1"}
	arrays := []Array{
		{Shape: []int{3, 3, 2, 4}, Data: seq(72)},
		{Shape: []int{4}, Data: seq(4)},
		{Shape: []int{5, 3}, Data: seq(15)},
		{Shape: []int{3}, Data: seq(3)},
	}
	if err := WriteNPZ(path, names, arrays); err != nil {
		t.Fatal(err)
	}
	layers, err := ReadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"conv1_1", "fc6"} {
		l := layers[name]
		if !slices.Equal(l.W.Data, arrays[2*i].Data) || !slices.Equal(l.W.Shape, arrays[2*i].Shape) ||
			!slices.Equal(l.B.Data, arrays[2*i+1].Data) {
			t.Errorf("layer %s: got %v, want W %v b %v", name, l, arrays[2*i], arrays[2*i+1])
		}
	}
	if err := WriteNPZ(filepath.Join(dir, "dup.npz"), []string{"a", "a"}, arrays[:2]); err == nil {
		t.Error("WriteNPZ accepted a name twice")
	}
	bad := filepath.Join(dir, "bad.npz")
	if err := WriteNPZ(bad, []string{"a"}, []Array{{Shape: []int{2}, Data: seq(3)}}); err == nil {
		t.Error("WriteNPZ accepted a wrong length")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("WriteNPZ left %s behind after an error", bad)
	}
}

func seq(n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(i)/8 - 1
	}
	return f
}

func TestFloat16(t *testing.T) {
	// Against an independent formula: value = (-1)^s * 2^(e-15) * (1 + m/1024), subnormals 2^-14 * m/1024.
	for h := 0; h < 1<<16; h++ {
		s, e, m := h>>15, (h>>10)&0x1f, h&0x3ff
		var w float64
		switch {
		case e == 0x1f && m == 0:
			w = math.Inf(1)
		case e == 0x1f:
			got := float16to32(uint16(h))
			if got == got || math.Float32bits(got)&0x7fffff != uint32(m)<<13 {
				t.Fatalf("%#04x: got %v (%#08x), want NaN with payload %#x", h, got, math.Float32bits(got), m)
			}
			continue
		case e == 0:
			w = math.Ldexp(float64(m)/1024, -14)
		default:
			w = math.Ldexp(1+float64(m)/1024, e-15)
		}
		if s == 1 {
			w = -w
		}
		if got := float16to32(uint16(h)); got != float32(w) || math.Signbit(float64(got)) != (s == 1) {
			t.Fatalf("%#04x: got %v, want %v", h, got, w)
		}
	}
}

func TestFortranToC(t *testing.T) {
	// A (2, 3, 4) array with a[i,j,k] = 100i + 10j + k, laid out in Fortran order.
	shape := []int{2, 3, 4}
	f := make([]float32, 24)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				f[i+2*j+6*k] = float32(100*i + 10*j + k)
			}
		}
	}
	c := fortranToC(f, shape)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				if got, want := c[12*i+4*j+k], float32(100*i+10*j+k); got != want {
					t.Fatalf("[%d,%d,%d]: got %v, want %v", i, j, k, got, want)
				}
			}
		}
	}
}

func TestHeaderParser(t *testing.T) {
	for _, tc := range []struct {
		text  string
		shape []int
		err   string
	}{
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", []int{2, 3}, ""},
		{"{\"shape\": (5,), \"descr\": \"<f2\", \"fortran_order\": True}", []int{5}, ""},
		{"{'descr':'<f8','fortran_order':False,'shape':()}\n", nil, ""},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", nil, "not a tuple"},
		{"{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", nil, "not True or False"},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", nil, "duplicate key"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } x", nil, "after the dictionary"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", nil, "bad integer"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 'a'), }", nil, "not an integer"},
		{"{'descr': '<x4', 'fortran_order': False, 'shape': (3,), }", nil, "unsupported dtype"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': " + strings.Repeat("(", 40), nil, "nested too deeply"},
		{"[]", nil, "not a dictionary"},
		{"{'descr': '<f4", nil, "unterminated string"},
	} {
		h, err := parseHeader(tc.text)
		if tc.err == "" {
			if err != nil || !slices.Equal(h.shape, tc.shape) && len(tc.shape) > 0 {
				t.Errorf("%q: got %v, %v; want shape %v", tc.text, h.shape, err, tc.shape)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: got %v, want an error containing %q", tc.text, err, tc.err)
		}
	}
}

// TestPickleLimits feeds hand-written pickles that must fail cleanly.
func TestPickleLimits(t *testing.T) {
	npyHead := func(pickle string) []byte {
		var b bytes.Buffer
		d := "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
		d += strings.Repeat(" ", (64-(10+len(d)+1)%64)%64) + "\n"
		b.WriteString(magic + "\x01\x00")
		b.WriteByte(byte(len(d)))
		b.WriteByte(byte(len(d) >> 8))
		b.WriteString(d)
		b.WriteString(pickle)
		return b.Bytes()
	}
	for _, tc := range []struct {
		name, pickle, err string
	}{
		{"binstring negative", "\x80\x02T\xff\xff\xff\xff", "negative length"},
		{"binbytes8 huge", "\x80\x03\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", "announces"},
		{"memo miss", "\x80\x02h\x05.", "never stored"},
		{"marks", "\x80\x02" + strings.Repeat("(", maxMarks+1), "MARKs nest deeper"},
		{"stack", "\x80\x02N" + strings.Repeat("2", maxStack), "stack exceeds"},
		{"empty pop", "\x80\x020", "empty stack"},
		{"append to dict", "\x80\x02}Na.", "not a list"},
		{"setitem to list", "\x80\x02]NNs.", "not a dict"},
		{"unhashable", "\x80\x02}]Ns.", "dict key of type list"},
		{"reduce non-global", "\x80\x02N)R.", "cannot call None"},
		{"build list", "\x80\x02]Nb.", "cannot BUILD a list"},
		{"long1 huge", "\x80\x02\x8a\x09", "too large"},
		{"out-of-band", "\x80\x05\x97", "NEXT_BUFFER"},
		{"ext", "\x80\x02\x82\x01", "EXT1"},
		{"global", "\x80\x02c__builtin__\neval\n", "__builtin__.eval"},
		{"stack global", "\x80\x04\x8c\x05posix\x8c\x06system\x93", "posix.system"},
		{"codecs utf-8", "\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.", "want latin1"},
		{"codecs wide", "\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R.", "cannot be latin1"},
		{"bad utf-8", "\x80\x02X\x01\x00\x00\x00\xff.", "not valid UTF-8"},
		{"stop empty", "\x80\x02.", "empty stack"},
		{"top is None", "\x80\x02N.", "pickle holds None, not a dict"},
		{"odd setitems", "\x80\x02}(Nu.", "odd number"},
		{"dtype subarray", "\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f4\x85R(K\x03X\x01\x00\x00\x00<(K\x02tNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb.", "subarray"},
		{"frame huge", "\x80\x04\x95\xff\xff\xff\x00\x00\x00\x00\x00", "FRAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := npyHead(tc.pickle)
			_, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
			if err == nil || !errors.Is(err, ErrFormat) && !errors.Is(err, ErrDType) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got %q, want it to contain %q", err, tc.err)
			}
		})
	}
}

// TestSharedArrays checks that an array the memo shares between layers is
// read once, and that sharing one buffer among many arrays cannot multiply
// the output beyond the input.
func TestSharedArrays(t *testing.T) {
	data := make([]byte, 4000*4)
	var p pickleWriter
	p.ops("}q\x00(")
	p.layer("a", func() { p.array([]int{4000}, data); p.ops("q\x01"); p.array([]int{2}, make([]byte, 8)) })
	p.layer("b", func() { p.ops("h\x01"); p.array([]int{2}, make([]byte, 8)) })
	p.ops("u.")
	b := p.npy()
	layers, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if &layers["a"].W.Data[0] != &layers["b"].W.Data[0] {
		t.Error("a shared array was read twice")
	}

	// 1000 layers, each a distinct _frombuffer array of the same 16000 bytes:
	// 16 MB of output from a 30 KB input.
	var q pickleWriter
	q.ops("cnumpy.core.numeric\n_frombuffer\nq\x020")
	q.str(string(data))
	q.ops("q\x030")
	q.dtype()
	q.ops("q\x040")
	q.ops("}q\x00(")
	for i := range 1000 {
		q.layer("l"+strconv.Itoa(i), func() {
			q.ops("h\x02(h\x03h\x04J\xa0\x0f\x00\x00\x85U\x01CtR")
			q.ops("h\x02(h\x03h\x04J\xa0\x0f\x00\x00\x85U\x01CtR")
		})
	}
	q.ops("u.")
	b = q.npy()
	_, err = DecodeWeights(bytes.NewReader(b), int64(len(b)))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "more data than the input holds") {
		t.Errorf("got %v, want an error about arrays shared too often", err)
	}
}

// TestProtocol0Strings reads arrays whose data and keys are protocol 0
// STRING literals with every kind of escape.
func TestProtocol0Strings(t *testing.T) {
	data := make([]byte, 256*4)
	for i := range data {
		data[i] = byte(i)
	}
	p := pickleWriter{text: true}
	p.ops("}q\x00(")
	p.layer("l'\\n", func() { p.array([]int{16, 16}, data); p.array([]int{1}, []byte("\n\\'\x00")) })
	p.ops("u.")
	b := p.npy()
	layers, err := DecodeWeights(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	l, ok := layers["l'\\n"]
	if !ok {
		t.Fatalf("got layers %v", layers)
	}
	got := float32Bytes(l.W.Data)
	if !bytes.Equal(got, data) && nativeLE {
		t.Errorf("W bytes: got %q, want %q", got, data)
	}
	if got := float32Bytes(l.B.Data); !bytes.Equal(got, []byte("\n\\'\x00")) && nativeLE {
		t.Errorf("b bytes: got %q", got)
	}
	for _, tc := range []struct{ in, err string }{
		{"'abc", "not a quoted string"},
		{"'a\\'", "trailing backslash"},
		{"'\\x4'", "truncated"},
		{"'\\xzz'", "bad \\x escape"},
	} {
		if _, err := pyStringLiteral([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.err)
		}
	}
	for _, tc := range []struct{ in, want, err string }{
		{"a\\u00e9\\U0001F600\\x", "a\u00e9\U0001F600\\x", ""},
		{"\\u12", "", "truncated"},
		{"\\U00110000", "", "bad"},
	} {
		got, err := rawUnicodeEscape([]byte(tc.in))
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q: got %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestReadNPZRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.npz")
	names := []string{"pool5", "fc7"}
	arrays := []Array{{Shape: []int{1, 2, 2, 3}, Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, {Shape: []int{1, 3}, Data: []float32{-1, 0.5, 7}}}
	if err := WriteNPZ(path, names, arrays); err != nil {
		t.Fatal(err)
	}
	gotNames, got, err := ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotNames, names) {
		t.Fatalf("names %v, want %v", gotNames, names)
	}
	for i, n := range names {
		if !slices.Equal(got[n].Shape, arrays[i].Shape) || !slices.Equal(got[n].Data, arrays[i].Data) {
			t.Errorf("%s: got %v, want %v", n, got[n], arrays[i])
		}
	}
	if _, _, err := ReadNPZ(filepath.Join("..", "testdata", "npy", "a_f4.npy")); !errors.Is(err, ErrFormat) {
		t.Errorf("ReadNPZ of an .npy: got %v, want ErrFormat", err)
	}
}

// TestReadNPZLeavesOutText: ReadNPZ reads the numbers of an .npz that
// also lists file names (vkvgg features' "paths") and leaves the names
// out.
func TestReadNPZLeavesOutText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.npz")
	members := []Member{
		{Name: "avgpool", Shape: []int{2, 2}, Float32: []float32{1, 2, 3, 4}},
		{Name: "paths", Shape: []int{2}, Unicode: []string{"a.jpg", "sub/b.png"}},
	}
	if err := WriteNPZMembers(path, members); err != nil {
		t.Fatal(err)
	}
	names, got, err := ReadNPZ(path)
	if err != nil || !slices.Equal(names, []string{"avgpool"}) || !slices.Equal(got["avgpool"].Data, members[0].Float32) {
		t.Fatalf("ReadNPZ: %v, %v, %v", names, got, err)
	}
}
