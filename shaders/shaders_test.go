package shaders

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/shaders/internal/manifest"
)

// TestFresh fails when a shader source changed and its SPIR-V was not
// regenerated, or a source has no module.
func TestFresh(t *testing.T) {
	man, err := sources.ReadFile("manifest.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(man))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			want[f[0]] = f[1]
		}
	}
	srcs, err := fs.Glob(sources, "*.comp")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatal("no shader sources embedded")
	}
	for _, src := range srcs {
		got, err := manifest.SourceHash(sources, src)
		if err != nil {
			t.Fatal(err)
		}
		if want[src] != got {
			t.Errorf("%s changed since its SPIR-V was built: run go generate ./shaders", src)
		}
		name := strings.TrimSuffix(src, ".comp")
		b, err := SPIRV(name)
		if err != nil {
			t.Errorf("%s: %v: run go generate ./shaders", src, err)
			continue
		}
		if len(b) < 20 || b[0] != 0x03 || b[1] != 0x02 || b[2] != 0x23 || b[3] != 0x07 {
			t.Errorf("%s.spv is not SPIR-V", name)
		}
	}
	if len(want) != len(srcs) {
		t.Errorf("manifest lists %d shaders, %d sources exist: run go generate ./shaders", len(want), len(srcs))
	}
}

// TestHalfVariantsStoreOnly checks that the fp16 variants declare only
// 16-bit storage, never fp16 arithmetic (the Float16 capability needs
// shaderFloat16, which the engine does not ask of a device). The module's
// capabilities are its first instructions, after the 5-word header:
// OpCapability (opcode 17) with Float16 (9).
func TestHalfVariantsStoreOnly(t *testing.T) {
	names, err := fs.Glob(spv, "*_f16.spv")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("%d fp16 variants: run go generate ./shaders", len(names))
	}
	for _, n := range names {
		b, _ := spv.ReadFile(n)
		caps := 0
		for i := 20; i+8 <= len(b); i += 8 {
			w := binary.LittleEndian.Uint32(b[i:])
			if w != 2<<16|17 {
				break
			}
			caps++
			if binary.LittleEndian.Uint32(b[i+4:]) == 9 {
				t.Errorf("%s declares the Float16 capability", n)
			}
		}
		if caps == 0 {
			t.Errorf("%s: no capabilities read", n)
		}
	}
}

// capabilities lists the OpCapability operands of a module: its first
// instructions after the 5-word header.
func capabilities(b []byte) []uint32 {
	var caps []uint32
	for i := 20; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint32(b[i:]) != 2<<16|17 {
			break
		}
		caps = append(caps, binary.LittleEndian.Uint32(b[i+4:]))
	}
	return caps
}

// TestSubgroupVariants: the shaders that share rows through rows.glsl
// have an _sg variant (and its fp16 one where they have one) that
// declares the subgroup shuffle capability (GroupNonUniformShuffle, 65),
// and no other module declares any subgroup capability (61 to 68), so
// that only the _sg variants need a device's subgroup support.
func TestSubgroupVariants(t *testing.T) {
	srcs, err := fs.Glob(sources, "*.comp")
	if err != nil {
		t.Fatal(err)
	}
	sg := 0
	for _, src := range srcs {
		b, _ := sources.ReadFile(src)
		if !strings.Contains(string(b), `#include "rows.glsl"`) {
			continue
		}
		name := strings.TrimSuffix(src, ".comp")
		if !Has(name+"_sg") || (Has(name+"_f16") && !Has(name+"_sg_f16")) {
			t.Errorf("%s: no _sg variant: run go generate ./shaders", src)
		}
		sg++
	}
	if sg < 2 {
		t.Errorf("%d shaders share rows, want wino_gemm and conv_cpu at least", sg)
	}
	names, err := fs.Glob(spv, "*.spv")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, _ := spv.ReadFile(n)
		caps := capabilities(b)
		variant := strings.Contains(n, "_sg")
		if variant && !slices.Contains(caps, 65) {
			t.Errorf("%s: no GroupNonUniformShuffle among %v", n, caps)
		}
		for _, c := range caps {
			if c >= 61 && c <= 68 && !variant {
				t.Errorf("%s declares subgroup capability %d", n, c)
			}
		}
	}
}
