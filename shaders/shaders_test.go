package shaders

import (
	"bufio"
	"bytes"
	"io/fs"
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
