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

func run() error {
	srcs, err := filepath.Glob("*.comp")
	if err != nil {
		return err
	}
	sort.Strings(srcs)
	var lines []string
	for _, src := range srcs {
		out := strings.TrimSuffix(src, ".comp") + ".spv"
		cmd := exec.Command("glslc", "--target-env=vulkan1.1", "-O", "-fshader-stage=compute", "-o", out, src)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("glslc %s: %w", src, err)
		}
		val := exec.Command("spirv-val", "--target-env", "vulkan1.1", out)
		val.Stdout, val.Stderr = os.Stdout, os.Stderr
		if err := val.Run(); err != nil {
			return fmt.Errorf("spirv-val %s: %w", out, err)
		}
		h, err := manifest.SourceHash(os.DirFS("."), src)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %s", src, h))
	}
	return os.WriteFile("manifest.txt", []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}
