// Package manifest hashes shader sources with their includes, for the
// generator and the freshness test of package shaders.
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"regexp"
	"sort"
)

var include = regexp.MustCompile(`(?m)^\s*#include\s+"([^"]+)"`)

// SourceHash is the SHA-256 of a shader source and, in name order, every
// file it includes (transitively), so editing an include makes it stale.
func SourceHash(fsys fs.FS, name string) (string, error) {
	seen := map[string][]byte{}
	var walk func(string) error
	walk = func(n string) error {
		if _, ok := seen[n]; ok {
			return nil
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return err
		}
		seen[n] = b
		for _, m := range include.FindAllSubmatch(b, -1) {
			if err := walk(string(m[1])); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(name); err != nil {
		return "", err
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n + "\x00"))
		h.Write(seen[n])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
