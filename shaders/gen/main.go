// Command gen compiles the compute shaders of package shaders with glslc,
// validates them with spirv-val and writes the manifest of source hashes
// that the package's freshness test checks. Run it with go generate ./shaders.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/shaders/internal/manifest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "shaders/gen:", err)
		os.Exit(1)
	}
}

// variant is one compilation of a shader: the suffix of its module's name
// and the compiler flags that make it.
type variant struct {
	suffix string
	flags  []string
}

func run() error {
	srcs, err := filepath.Glob("*.comp")
	if err != nil {
		return err
	}
	sort.Strings(srcs)
	var lines []string
	for _, src := range srcs {
		base := strings.TrimSuffix(src, ".comp")
		// Every shader is compiled as it is; those that share rows through
		// rows.glsl also with subgroup operations (name_sg), for devices
		// that have them; and each of these, where the shader takes its
		// storage types from store.glsl, with 16-bit storage (name_f16).
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		variants := []variant{{"", nil}}
		if strings.Contains(string(b), `#include "rows.glsl"`) {
			variants = append(variants, variant{"_sg", []string{"-DSUBGROUP"}})
		}
		half := strings.Contains(string(b), `#include "store.glsl"`)
		for _, v := range variants {
			if err := compile(src, base+v.suffix+".spv", v.flags...); err != nil {
				return err
			}
			if half {
				if err := compile(src, base+v.suffix+"_f16.spv", append([]string{"-DFP16"}, v.flags...)...); err != nil {
					return err
				}
			}
		}
		h, err := manifest.SourceHash(os.DirFS("."), src)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %s", src, h))
	}
	return os.WriteFile("manifest.txt", []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// compile runs glslc on src into out, with extra flags, and validates
// the module.
func compile(src, out string, flags ...string) error {
	args := append([]string{"--target-env=vulkan1.1", "-O", "-fshader-stage=compute"}, flags...)
	cmd := exec.Command("glslc", append(args, "-o", out, src)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("glslc %s %v: %w", src, flags, err)
	}
	val := exec.Command("spirv-val", "--target-env", "vulkan1.1", out)
	val.Stdout, val.Stderr = os.Stdout, os.Stderr
	if err := val.Run(); err != nil {
		return fmt.Errorf("spirv-val %s: %w", out, err)
	}
	return nil
}
