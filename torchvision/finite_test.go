package torchvision

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkvgg/vkvgg/npy"
)

// TestBuildRefusesNonFinite: a NaN or infinity anywhere in a state dict
// is refused, and the message names the tensor and the value's index.
func TestBuildRefusesNonFinite(t *testing.T) {
	entries, err := npy.ReadTorch(filepath.Join(tvDir, "resnet18.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		at   int
		v    float32
	}{
		{"conv1.weight", 0, float32(math.NaN())},
		{"layer3.1.bn2.running_var", 5, float32(math.Inf(1))},
		{"fc.weight", 637, float32(math.Inf(-1))},
	} {
		sd := FromEntries(entries)
		a, ok := sd[c.name]
		if !ok {
			t.Fatalf("no %s in the fixture", c.name)
		}
		data := append([]float32(nil), a.Data...)
		data[c.at] = c.v
		a.Data = data
		sd[c.name] = a
		_, err := Build(sd)
		want := fmt.Sprintf("%s value %d is %v", c.name, c.at, c.v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s[%d] = %v: got %v, want an error with %q", c.name, c.at, c.v, err, want)
		}
	}
}
