//go:build cgo

package gpu

import (
	"encoding/binary"
	"fmt"
	"runtime"

	vk "github.com/vulkan-go/vulkan"
)

// Kernel is a compute pipeline with its layouts.
type Kernel struct {
	dev       *Device
	name      string
	bindings  int
	texels    uint32
	pushWords int
	module    vk.ShaderModule
	setLayout vk.DescriptorSetLayout
	layout    vk.PipelineLayout
	pipeline  vk.Pipeline
	closed    bool
}

// NewKernel compiles a compute pipeline.
func (d *Device) NewKernel(spec KernelSpec) (*Kernel, error) {
	if d.closed {
		return nil, ErrClosed
	}
	if len(spec.SPIRV) == 0 || len(spec.SPIRV)%4 != 0 || binary.LittleEndian.Uint32(spec.SPIRV) != 0x07230203 {
		return nil, fmt.Errorf("%w: kernel %s: not a SPIR-V module", ErrInvalid, spec.Name)
	}
	if spec.Bindings < 1 || spec.PushWords < 0 || spec.PushWords*4 > 128 {
		return nil, fmt.Errorf("%w: kernel %s: %d bindings, %d push words", ErrInvalid, spec.Name, spec.Bindings, spec.PushWords)
	}
	k := &Kernel{dev: d, name: spec.Name, bindings: spec.Bindings, texels: spec.Texels, pushWords: spec.PushWords}
	ok := false
	defer func() {
		if !ok {
			k.destroy()
		}
	}()
	code := make([]uint32, len(spec.SPIRV)/4)
	for i := range code {
		code[i] = binary.LittleEndian.Uint32(spec.SPIRV[4*i:])
	}
	minfo := &vk.ShaderModuleCreateInfo{
		SType:    vk.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(len(spec.SPIRV)),
		PCode:    code,
	}
	defer minfo.Free() // the binding's C copy of it
	if err := vkErr("vkCreateShaderModule "+spec.Name, into(&k.module, func(p *vk.ShaderModule) vk.Result { return vk.CreateShaderModule(d.handle, minfo, nil, p) })); err != nil {
		return nil, err
	}
	runtime.KeepAlive(code) // the binding passes it to C by address
	if spec.Bindings > maxBindings {
		return nil, fmt.Errorf("%w: kernel %s: %d bindings, at most %d", ErrInvalid, spec.Name, spec.Bindings, maxBindings)
	}
	types := make([]vk.DescriptorType, spec.Bindings)
	for i := range types {
		types[i] = k.descriptorType(i)
	}
	var r vk.Result
	k.setLayout, r = createSetLayout(d.handle, types)
	if err := vkErr("vkCreateDescriptorSetLayout", r); err != nil {
		return nil, err
	}
	k.layout, r = createPipelineLayout(d.handle, k.setLayout, spec.PushWords*4)
	if err := vkErr("vkCreatePipelineLayout", r); err != nil {
		return nil, err
	}
	pipe, r := createPipeline(d.handle, d.cache, k.module, k.layout, spec.Spec)
	if err := vkErr("vkCreateComputePipelines "+spec.Name, r); err != nil {
		return nil, err
	}
	k.pipeline = pipe
	ok = true
	d.track(k, "Kernel "+spec.Name)
	return k, nil
}

func (k *Kernel) destroy() {
	h := k.dev.handle
	if k.pipeline != vk.NullPipeline {
		vk.DestroyPipeline(h, k.pipeline, nil)
	}
	if k.layout != vk.NullPipelineLayout {
		vk.DestroyPipelineLayout(h, k.layout, nil)
	}
	if k.setLayout != vk.NullDescriptorSetLayout {
		vk.DestroyDescriptorSetLayout(h, k.setLayout, nil)
	}
	if k.module != vk.NullShaderModule {
		vk.DestroyShaderModule(h, k.module, nil)
	}
}

// Name is the kernel's name.
func (k *Kernel) Name() string { return k.name }

// Close destroys the pipeline. It is idempotent and nil-safe.
func (k *Kernel) Close() error {
	if k == nil || k.closed {
		return nil
	}
	k.closed = true
	if !k.dev.closed {
		k.destroy()
		k.dev.untrack(k)
	}
	return nil
}

func (k *Kernel) descriptorType(binding int) vk.DescriptorType {
	if k.texels&(1<<binding) != 0 {
		return vk.DescriptorTypeUniformTexelBuffer
	}
	return vk.DescriptorTypeStorageBuffer
}
