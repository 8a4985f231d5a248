package gpu

import (
	"errors"
	"testing"
)

func TestChoose(t *testing.T) {
	devs := []DeviceInfo{
		{Index: 0, Name: "llvmpipe (LLVM 15.0.6, 256 bits)", Type: CPU},
		{Index: 1, Name: "Intel(R) UHD Graphics 630", Type: Integrated},
		{Index: 2, Name: "NVIDIA GeForce RTX 4090", Type: Discrete},
		{Index: 3, Name: "Virtio GPU", Type: Virtual},
	}
	for _, c := range []struct {
		sel  string
		want int
	}{
		{"", 2}, {"0", 0}, {"3", 3}, {"nvidia", 2}, {"LLVMPIPE", 0}, {"uhd", 1},
	} {
		got, err := choose(devs, c.sel)
		if err != nil || got.Index != c.want {
			t.Errorf("choose(%q) = %d, %v; want %d", c.sel, got.Index, err, c.want)
		}
	}
	// Without a discrete GPU the integrated one wins, then virtual, then CPU.
	if got, _ := choose([]DeviceInfo{devs[0], devs[3], devs[1]}, ""); got.Type != Integrated {
		t.Errorf("default without a discrete GPU: got %v", got.Type)
	}
	if got, _ := choose([]DeviceInfo{devs[0], devs[3]}, ""); got.Type != Virtual {
		t.Errorf("default of virtual and CPU: got %v", got.Type)
	}
	for _, sel := range []string{"4", "-1", "radeon"} {
		if _, err := choose(devs, sel); !errors.Is(err, ErrNoDevice) {
			t.Errorf("choose(%q): got %v, want ErrNoDevice", sel, err)
		}
	}
	if _, err := choose(nil, ""); !errors.Is(err, ErrNoDevice) {
		t.Errorf("no devices: got %v, want ErrNoDevice", err)
	}
}
