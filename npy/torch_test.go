package npy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/vkvgg/vkvgg/internal/fuzzcorpus"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// torchDir holds the torch.save files that tools/golden/torchfixtures.py
// writes, and expected.npz, their float tensors as numpy wrote them.
const torchDir = "../testdata/torch"

// torchFixtures returns the paths of the .pt fixtures.
func torchFixtures(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(torchDir, "*.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 12 {
		t.Fatalf("only %d .pt files in %s (run /usr/bin/python3 tools/golden/torchfixtures.py)", len(paths), torchDir)
	}
	return paths
}

func TestTorchFixtures(t *testing.T) {
	names, arrays, err := ReadNPZ(filepath.Join(torchDir, "expected.npz"))
	if err != nil {
		t.Fatal(err)
	}
	// expected.npz names are "<file stem>/<key>", in state dict order.
	want := map[string][]string{}
	for _, n := range names {
		stem, key, ok := strings.Cut(n, "/")
		if !ok {
			t.Fatalf("expected.npz member %q has no stem", n)
		}
		want[stem] = append(want[stem], key)
	}
	paths := torchFixtures(t)
	if len(want) != len(paths) {
		t.Errorf("expected.npz covers %d files, there are %d .pt files", len(want), len(paths))
	}
	for _, path := range paths {
		stem := strings.TrimSuffix(filepath.Base(path), ".pt")
		t.Run(stem, func(t *testing.T) {
			entries, err := ReadTorch(path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Name)
			}
			if !slices.Equal(got, want[stem]) {
				t.Fatalf("names got %q, want %q", got, want[stem])
			}
			for _, e := range entries {
				w := arrays[stem+"/"+e.Name]
				if !slices.Equal(e.Array.Shape, w.Shape) && !(len(e.Array.Shape) == 0 && len(w.Shape) == 0) {
					t.Errorf("%s: shape got %v, want %v", e.Name, e.Array.Shape, w.Shape)
					continue
				}
				checkArrayShape(t, e.Name, e.Array)
				for i, v := range e.Array.Data {
					if math.Float32bits(v) != math.Float32bits(w.Data[i]) {
						t.Errorf("%s[%d]: got %v, want %v", e.Name, i, v, w.Data[i])
						break
					}
				}
			}
			head, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !IsTorch(head[:min(512, len(head))]) {
				t.Errorf("IsTorch is false for its first bytes %q", head[:min(40, len(head))])
			}
		})
	}
}

// TestTorchSkipsIntegers checks that batch norm's int64 num_batches_tracked
// is left out, and the float tensors around it kept.
func TestTorchSkipsIntegers(t *testing.T) {
	for _, file := range []string{"sd_f4.pt", "sd_legacy.pt"} {
		entries, err := ReadTorch(filepath.Join(torchDir, file))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name)
		}
		if slices.Contains(names, "1.num_batches_tracked") || !slices.Contains(names, "1.running_var") || len(names) != 10 {
			t.Errorf("%s: got %q, want the 10 float tensors", file, names)
		}
	}
}

// TestTorchSharedStorage checks views of one storage at different offsets:
// "first" is flat[2:8] as 2x3, "second" flat[5:17] as 3x4.
func TestTorchSharedStorage(t *testing.T) {
	for _, file := range []string{"sd_shared.pt", "sd_legacy_p4.pt"} {
		entries, err := ReadTorch(filepath.Join(torchDir, file))
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]Array{}
		for _, e := range entries {
			byName[e.Name] = e.Array
		}
		flat := byName["whole"].Data
		if len(flat) != 23 {
			t.Fatalf("%s: whole has %d values, want 23", file, len(flat))
		}
		for name, off := range map[string]int{"first": 2, "second": 5, "tail": 20} {
			a := byName[name]
			if !slices.Equal(a.Data, flat[off:off+len(a.Data)]) {
				t.Errorf("%s: %s got %v, want flat[%d:] %v", file, name, a.Data, off, flat[off:off+len(a.Data)])
			}
		}
	}
}

func TestIsTorch(t *testing.T) {
	for _, path := range []string{
		filepath.Join(torchDir, "expected.npz"),
		filepath.Join(fixtureDir, "w_npz_wb_f4.npz"),
		filepath.Join(fixtureDir, "w_py2_f4.npy"),
		filepath.Join(fixtureDir, "a_f4.npy"),
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if IsTorch(b[:min(512, len(b))]) {
			t.Errorf("IsTorch(%s) is true", filepath.Base(path))
		}
	}
	for _, head := range []string{"", "PK", "PK\x03\x04", "\x80\x02\x8a\x0a"} {
		if IsTorch([]byte(head)) {
			t.Errorf("IsTorch(%q) is true", head)
		}
	}
	if !IsTorch(torchZip(t, "model", torchPickle(), nil)) {
		t.Error("IsTorch is false for a generated torch zip")
	}
}

// TestTorchTruncated cuts every fixture at every length: each prefix must
// fail with ErrFormat, without panicking.
func TestTorchTruncated(t *testing.T) {
	for _, path := range torchFixtures(t) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		step := 1
		if testing.Short() {
			step = 37
		}
		for n := 0; n < len(b); n += step {
			entries, err := DecodeTorch(bytes.NewReader(b[:n]), int64(n))
			if err == nil {
				t.Fatalf("%s cut to %d of %d bytes: no error, %d entries", filepath.Base(path), n, len(b), len(entries))
			}
			checkResultError(t, err)
		}
	}
}

// torchPickle writes a protocol-2 pickle of an OrderedDict as torch.save
// does, with the items that each function writes.
func torchPickle(items ...func(p *pickleWriter)) []byte {
	var p pickleWriter
	p.ops("\x80\x02ccollections\nOrderedDict\n)R(")
	for _, it := range items {
		it(&p)
	}
	p.ops("u.")
	return p.b.Bytes()
}

// ustr writes a str (BINUNICODE).
func ustr(p *pickleWriter, s string) {
	p.b.WriteByte('X')
	p.b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	p.b.WriteString(s)
}

// long writes an int as LONG1 of 8 bytes.
func long(p *pickleWriter, n int64) {
	p.ops("\x8a\x08")
	p.b.Write(binary.LittleEndian.AppendUint64(nil, uint64(n)))
}

// tspec describes one state dict entry: name = _rebuild_tensor_v2 of
// storage (class, key, numel) at off with size and stride.
type tspec struct {
	name, class, key   string
	numel, off         int64
	size, stride       []int64
	rebuild, pidPrefix string // defaults: "torch._utils\n_rebuild_tensor_v2", "storage"
	v1                 bool   // _rebuild_tensor's four arguments only
	extra              string // opcodes of more arguments: v3's dtype, metadata
}

func (s tspec) write(p *pickleWriter) {
	ustr(p, s.name)
	rebuild := s.rebuild
	if rebuild == "" {
		rebuild = "torch._utils\n_rebuild_tensor_v2"
	}
	p.ops("c" + rebuild + "\n")
	s.args(p)
	p.ops("R")
}

// args writes the argument tuple of the rebuild function.
func (s tspec) args(p *pickleWriter) {
	kind := s.pidPrefix
	if kind == "" {
		kind = "storage"
	}
	p.ops("((")
	ustr(p, kind)
	if strings.Contains(s.class, "\n") {
		p.ops("c" + s.class + "\n")
	} else {
		p.ops("ctorch\n" + s.class + "\n")
	}
	ustr(p, s.key)
	ustr(p, "cpu")
	long(p, s.numel)
	p.ops("tQ")
	long(p, s.off)
	p.ops("(")
	for _, n := range s.size {
		long(p, n)
	}
	p.ops("t(")
	for _, n := range s.stride {
		long(p, n)
	}
	p.ops("t")
	if !s.v1 {
		p.ops("\x89ccollections\nOrderedDict\n)R")
	}
	p.ops(s.extra + "t")
}

// torchZip writes a torch.save-style zip: folder/data.pkl, then
// folder/data/<key> for each storage, stored, in key order.
func torchZip(t testing.TB, folder string, pkl []byte, storages map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, b []byte, method uint16) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	add(folder+"/data.pkl", pkl, zip.Store)
	keys := make([]string, 0, len(storages))
	for k := range storages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		method := zip.Store
		name := k
		if rest, ok := strings.CutPrefix(k, "deflate:"); ok {
			method, name = zip.Deflate, rest
		}
		if strings.Contains(name, "/") {
			add(name, storages[k], method) // a full member name
		} else {
			add(folder+"/data/"+name, storages[k], method)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// f32s returns n little-endian float32 values 0.5, 1.5, ...
func f32s(n int) []byte {
	b := make([]byte, 0, 4*n)
	for i := range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i)+0.5))
	}
	return b
}

func TestTorchGenerated(t *testing.T) {
	// A transposed 3x2 view of a 2x3 storage, at offset 0, and a column.
	pkl := torchPickle(
		tspec{name: "t", class: "FloatStorage", key: "0", numel: 6, size: []int64{3, 2}, stride: []int64{1, 3}}.write,
		tspec{name: "col", class: "FloatStorage", key: "0", numel: 6, off: 1, size: []int64{2}, stride: []int64{3}}.write,
		tspec{name: "n", class: "LongStorage", key: "1", numel: 1, size: nil, stride: nil}.write,
	)
	b := torchZip(t, "archive", pkl, map[string][]byte{"0": f32s(6), "1": make([]byte, 8)})
	entries, err := DecodeTorch(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("got %d entries, want 2", len(entries))
	}
	if got, want := entries[0].Array, (Array{Shape: []int{3, 2}, Data: []float32{0.5, 3.5, 1.5, 4.5, 2.5, 5.5}}); !slices.Equal(got.Shape, want.Shape) || !slices.Equal(got.Data, want.Data) {
		t.Errorf("t: got %v, want %v", got, want)
	}
	if got, want := entries[1].Array.Data, []float32{1.5, 4.5}; !slices.Equal(got, want) {
		t.Errorf("col: got %v, want %v", got, want)
	}
}

// TestTorchRebuilds covers the rebuild functions that torch 1.13 does not
// write for a state dict: _rebuild_tensor (before 0.4), _rebuild_tensor_v3
// with an untyped storage (2.x, for dtypes without a storage class),
// _rebuild_parameter_with_state, _rebuild_from_type_v2, and metadata.
func TestTorchRebuilds(t *testing.T) {
	base := tspec{name: "w", class: "FloatStorage", key: "0", numel: 6, size: []int64{3}, stride: []int64{2}}
	bf16 := []byte{0, 0x3f, 0, 0x40, 0x80, 0xc0} // 0.5, 2, -4 as bfloat16
	cases := []struct {
		name    string
		write   func(p *pickleWriter)
		storage []byte
		want    []float32
	}{
		{"v1", func(p *pickleWriter) {
			s := base
			s.rebuild, s.v1 = "torch._utils\n_rebuild_tensor", true
			s.write(p)
		}, f32s(6), []float32{0.5, 2.5, 4.5}},
		{"v2 with empty metadata", func(p *pickleWriter) {
			s := base
			s.extra = "}(X\x03\x00\x00\x00neg\x89u"
			s.write(p)
		}, f32s(6), []float32{0.5, 2.5, 4.5}},
		{"v3 untyped float32", func(p *pickleWriter) {
			s := base
			s.rebuild, s.class, s.numel, s.extra = "torch._utils\n_rebuild_tensor_v3", "UntypedStorage", 24, "ctorch\nfloat32\n"
			s.write(p)
		}, f32s(6), []float32{0.5, 2.5, 4.5}},
		{"v3 untyped bfloat16", func(p *pickleWriter) {
			s := base
			s.rebuild, s.class, s.numel, s.stride, s.extra = "torch._utils\n_rebuild_tensor_v3", "torch.storage\nUntypedStorage", 6, []int64{1}, "ctorch\nbfloat16\nN"
			s.write(p)
		}, bf16, []float32{0.5, 2, -4}},
		{"parameter with state", func(p *pickleWriter) {
			ustr(p, "w")
			p.ops("ctorch._utils\n_rebuild_parameter_with_state\n(ctorch._utils\n_rebuild_tensor_v2\n")
			base.args(p)
			p.ops("R\x88ccollections\nOrderedDict\n)R}tR")
		}, f32s(6), []float32{0.5, 2.5, 4.5}},
		{"from type v2", func(p *pickleWriter) {
			ustr(p, "w")
			p.ops("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\nctorch.nn.parameter\nParameter\n")
			base.args(p)
			p.ops("}tR")
		}, f32s(6), []float32{0.5, 2.5, 4.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := torchZip(t, "archive", torchPickle(c.write), map[string][]byte{"0": c.storage})
			entries, err := DecodeTorch(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || !slices.Equal(entries[0].Array.Data, c.want) {
				t.Fatalf("got %v, want w = %v", entries, c.want)
			}
		})
	}
	// Metadata that would change the values is refused.
	s := base
	s.extra = "}(X\x03\x00\x00\x00neg\x88u"
	b := torchZip(t, "archive", torchPickle(s.write), map[string][]byte{"0": f32s(6)})
	if _, err := DecodeTorch(bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `metadata "neg"`) {
		t.Errorf("neg metadata: got %v", err)
	}
}

func TestTorchErrors(t *testing.T) {
	f := func(s tspec) func(*pickleWriter) { return s.write }
	ok := tspec{name: "w", class: "FloatStorage", key: "0", numel: 6, size: []int64{2, 3}, stride: []int64{3, 1}}
	with := func(change func(*tspec)) func(*pickleWriter) {
		s := ok
		change(&s)
		return s.write
	}
	six := map[string][]byte{"0": f32s(6)}
	cases := []struct {
		name     string
		pkl      []byte
		storages map[string][]byte
		sentinel error
		contains string
	}{
		{"size exceeds storage", torchPickle(with(func(s *tspec) { s.size = []int64{3, 3} })), six,
			ErrFormat, "reach past the end of storage \"0\" of 6 float32"},
		{"offset past storage", torchPickle(with(func(s *tspec) { s.off = 1 })), six,
			ErrFormat, "reach past the end"},
		{"stride past storage", torchPickle(with(func(s *tspec) { s.stride = []int64{4, 1} })), six,
			ErrFormat, "reach past the end"},
		{"huge size", torchPickle(with(func(s *tspec) { s.size, s.stride = []int64{1 << 40}, []int64{1} })), six,
			ErrFormat, "reach past the end"},
		{"size overflow", torchPickle(with(func(s *tspec) { s.size, s.stride = []int64{1 << 40, 1 << 40}, []int64{0, 0} })), six,
			ErrFormat, "more than"},
		{"stride overflow", torchPickle(with(func(s *tspec) { s.size, s.stride = []int64{3, 2}, []int64{1 << 62, 1 << 62} })), six,
			ErrFormat, "reach past the end"},
		{"negative stride", torchPickle(with(func(s *tspec) { s.stride = []int64{3, -1} })), six,
			ErrFormat, "stride"},
		{"negative offset", torchPickle(with(func(s *tspec) { s.off = -1 })), six,
			ErrFormat, "storage offset"},
		{"rank mismatch", torchPickle(with(func(s *tspec) { s.stride = []int64{1} })), six,
			ErrFormat, "same length"},
		{"expanded beyond the input", torchPickle(with(func(s *tspec) { s.size, s.stride = []int64{1 << 28}, []int64{0} })), six,
			ErrFormat, "more data than the input"},
		{"storage claims more than its member", torchPickle(with(func(s *tspec) { s.numel = 7 })), six,
			ErrFormat, "needs 28 bytes, member archive/data/0 holds 24"},
		{"no storage member", torchPickle(f(ok)), nil,
			ErrFormat, "no member archive/data/0"},
		{"unknown global", torchPickle(with(func(s *tspec) { s.rebuild = "os\nsystem" })), six,
			ErrFormat, "global os.system, which is not allowed"},
		{"quantized tensor", torchPickle(with(func(s *tspec) { s.rebuild = "torch._utils\n_rebuild_qtensor" })), six,
			ErrFormat, "global torch._utils._rebuild_qtensor"},
		{"unknown storage class", torchPickle(with(func(s *tspec) { s.class = "FancyStorage" })), six,
			ErrFormat, "torch.FancyStorage"},
		{"complex", torchPickle(with(func(s *tspec) { s.class, s.size, s.stride = "ComplexFloatStorage", []int64{3}, []int64{1} })), map[string][]byte{"0": f32s(12)},
			ErrDType, "complex64"},
		{"persistent id not a storage", torchPickle(with(func(s *tspec) { s.pidPrefix = "module" })), six,
			ErrFormat, "persistent id"},
		{"same key, two sizes", torchPickle(f(ok), with(func(s *tspec) { s.name, s.numel = "v", 5 })), six,
			ErrFormat, "is named as float32 of 6 elements and as float32 of 5"},
		{"compressed storage", torchPickle(f(ok)), map[string][]byte{"deflate:0": f32s(6)},
			ErrFormat, "compressed"},
		{"two top folders", torchPickle(f(ok)), map[string][]byte{"0": f32s(6), "other/x": nil},
			ErrFormat, "two top folders"},
		{"torchscript", torchPickle(f(ok)), map[string][]byte{"0": f32s(6), "archive/constants.pkl": nil},
			ErrFormat, "TorchScript"},
		{"bad byteorder", torchPickle(f(ok)), map[string][]byte{"0": f32s(6), "archive/byteorder": []byte("middle")},
			ErrFormat, "byteorder holds \"middle\""},
		{"entry not a tensor", torchPickle(func(p *pickleWriter) { ustr(p, "epoch"); p.ops("K\x03") }), nil,
			ErrFormat, "entry \"epoch\" is an int, not a tensor"},
		{"not a dict", []byte("\x80\x02]."), nil,
			ErrFormat, "not a state dict"},
		{"BUILD on a tensor", torchPickle(func(p *pickleWriter) { ok.write(p); p.ops("}b") }), six,
			ErrFormat, "cannot BUILD"},
		{"PERSID", []byte("\x80\x02Pstorage\n."), nil,
			ErrFormat, "PERSID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := torchZip(t, "archive", c.pkl, c.storages)
			entries, err := DecodeTorch(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				t.Fatalf("no error, %d entries", len(entries))
			}
			checkResultError(t, err)
			if !errors.Is(err, c.sentinel) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("got %v, want %v containing %q", err, c.sentinel, c.contains)
			}
		})
	}
	// No data.pkl at all.
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	if _, err := z.Create("archive/version"); err != nil {
		t.Fatal(err)
	}
	z.Close()
	if _, err := DecodeTorch(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil || !strings.Contains(err.Error(), "no archive/data.pkl") {
		t.Errorf("zip without data.pkl: got %v", err)
	}
	// Not a torch file at all.
	for _, path := range []string{filepath.Join(fixtureDir, "a_f4.npy"), filepath.Join(fixtureDir, "w_npz_wb_f4.npz")} {
		if _, err := ReadTorch(path); !errors.Is(err, ErrFormat) {
			t.Errorf("ReadTorch(%s): got %v, want ErrFormat", filepath.Base(path), err)
		}
	}
}

// TestWeightsRefuseTorch checks that the torch globals and persistent ids
// stay out of the tensorflow-vgg weight reader.
func TestWeightsRefuseTorch(t *testing.T) {
	pkl := torchPickle(tspec{name: "w", class: "FloatStorage", key: "0", numel: 6, size: []int64{6}, stride: []int64{1}}.write)
	_, err := DecodeWeights(bytes.NewReader(pkl), int64(len(pkl)))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "global torch._utils._rebuild_tensor_v2, which is not allowed") {
		t.Errorf("torch pickle as weights: got %v", err)
	}
	pid := []byte("\x80\x02}(X\x01\x00\x00\x00w(X\x07\x00\x00\x00storageK\x00tQu.")
	_, err = DecodeWeights(bytes.NewReader(pid), int64(len(pid)))
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "persistent ids are not supported") {
		t.Errorf("persistent id in weights: got %v", err)
	}
}

// TestTorchRandom feeds random bytes and randomly damaged fixtures: every
// result must be an error matching a sentinel, or entries whose shapes
// match their data.
func TestTorchRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs [][]byte
	for i := range 3000 {
		b := make([]byte, rng.IntN(2048))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		switch i % 3 {
		case 1:
			b = append([]byte("PK\x03\x04"), b...)
		case 2:
			b = append([]byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02"), b...)
		}
		inputs = append(inputs, b)
	}
	n := 300
	if testing.Short() {
		n = 30
	}
	for _, path := range torchFixtures(t) {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			b := slices.Clone(orig)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
			inputs = append(inputs, b)
		}
	}
	for _, b := range inputs {
		checkDecodeTorch(t, b)
	}
}

// checkDecodeTorch decodes b and checks what comes back.
func checkDecodeTorch(t *testing.T, b []byte) {
	t.Helper()
	IsTorch(b)
	entries, err := DecodeTorch(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		if entries != nil {
			t.Fatal("entries and an error")
		}
		checkResultError(t, err)
		return
	}
	seen := map[*float32]bool{}
	var total int64
	for _, e := range entries {
		checkArrayShape(t, e.Name, e.Array)
		if d := e.Array.Data; len(d) > 0 && !seen[&d[0]] {
			seen[&d[0]] = true
			total += 4 * int64(len(d))
		}
	}
	if total > 4*int64(len(b))+1<<20 {
		t.Fatalf("%d bytes of tensors from %d bytes of input", total, len(b))
	}
}

func FuzzDecodeTorch(f *testing.F) {
	entries, err := os.ReadDir(torchDir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pt") {
			b, err := os.ReadFile(filepath.Join(torchDir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	fuzzcorpus.Add(f, filepath.Join(corpusRoot, "FuzzDecodeTorch"))
	f.Fuzz(checkDecodeTorch)
}

// TestTorchPeakMemory reads a generated 32 MB torch zip and checks that
// loading allocates about the file's size.
func TestTorchPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 32 MB file")
	}
	shapes := map[string][]int64{"0": {1024, 4096}, "1": {4096}, "2": {1000, 4000}, "3": {1000}}
	var items []func(*pickleWriter)
	storages := map[string][]byte{}
	for _, key := range []string{"0", "1", "2", "3"} {
		s := shapes[key]
		n := int64(1)
		for _, d := range s {
			n *= d
		}
		stride := []int64{1}
		if len(s) == 2 {
			stride = []int64{s[1], 1}
		}
		items = append(items, tspec{name: "layer" + key, class: "FloatStorage", key: key, numel: n, size: s, stride: stride}.write)
		storages[key] = f32s(int(n))
	}
	b := torchZip(t, "big", torchPickle(items...), storages)
	path := filepath.Join(t.TempDir(), "big.pt")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	size := int64(len(b))
	b, storages = nil, nil
	var got []TorchEntry
	var err error
	alloc, peak := measure(func() { got, err = ReadTorch(path) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[2].Array.Data[12345] != 12345.5 {
		t.Fatalf("wrong contents: %d entries", len(got))
	}
	t.Logf("torch zip: file %.1f MB, allocated %.1f MB (%.3fx the file), peak heap growth %.1f MB (%.3fx)",
		mb(size), mb(int64(alloc)), float64(alloc)/float64(size), mb(int64(peak)), float64(peak)/float64(size))
	if r := float64(alloc) / float64(size); r > 1.05 {
		t.Errorf("ReadTorch allocated %.3fx the file size, want at most 1.05x", r)
	}
	runtime.KeepAlive(got)
}
