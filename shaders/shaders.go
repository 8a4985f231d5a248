// Package shaders embeds the SPIR-V of vkvgg's compute shaders.
//
// The GLSL sources (*.comp, shared code in *.glsl) sit beside the compiled
// modules (*.spv). After editing a source, run
//
//	go generate ./shaders
//
// which needs glslc and spirv-val (Debian: glslc, spirv-tools). Users of
// the package never need them: the .spv files are committed, and a test
// fails when a source no longer matches the manifest of hashes.
//
// Each source's header comment states its bindings, push constants,
// specialization constants and dispatch geometry.
package shaders

//go:generate go run ./gen

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
)

//go:embed *.spv
var spv embed.FS

//go:embed *.comp *.glsl manifest.txt
var sources embed.FS

// SPIRV returns the module compiled from name.comp (name without suffix).
func SPIRV(name string) ([]byte, error) {
	b, err := spv.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no shader %q", name)
	}
	return b, nil
}

// Has reports whether name.spv is embedded, without copying it.
func Has(name string) bool {
	_, err := fs.Stat(spv, name+".spv")
	return err == nil
}

// Version identifies this set of shaders: a hash of the manifest of their
// sources' hashes, so any edited shader changes it. Choices timed with
// one set of kernels (the layers' tuning) are not reused with another.
func Version() string {
	b, err := sources.ReadFile("manifest.txt")
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// MustSPIRV is SPIRV for names known at compile time; it panics on a
// name that is not embedded, which is a programming error.
func MustSPIRV(name string) []byte {
	b, err := SPIRV(name)
	if err != nil {
		panic(err)
	}
	return b
}
