package models_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExample builds and runs the Go program of the README, so that
// the front door's example compiles and works as written.
func TestREADMEExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	start := strings.Index(s, "```go\npackage main\n")
	if start < 0 {
		t.Fatal("README has no ```go block with a package main program")
	}
	s = s[start+len("```go\n"):]
	code := s[:strings.Index(s, "```")]
	// Inside the module, so that its imports resolve.
	dir, err := os.MkdirTemp("..", ".readme-example-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./"+filepath.Base(dir))
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the README example: %v", err)
	}
	if !strings.Contains(string(out), "[1 2048] [1 14 14 1024]") || !strings.Contains(string(out), "[1 1024]") {
		t.Errorf("unexpected output")
	}
}
