//go:build cgo

package gpu

import (
	"fmt"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// Buffer is a device-local storage buffer. On devices with unified memory
// (lavapipe, integrated GPUs) it is host visible and mapped, and uploads
// and downloads are plain copies; elsewhere they go through a staging
// buffer. A Buffer may be larger than MaxStorageBufferRange: a kernel
// binds a View of it, and each View must fit the range.
type Buffer struct {
	dev    *Device
	handle vk.Buffer
	memory vk.DeviceMemory
	size   int64
	mapped unsafe.Pointer // non-nil for host-visible buffers
	closed bool
	shared bool // the application's (WrapBuffer): never destroyed
}

// defaultStagingChunk bounds the staging memory of one upload or
// download step (Device.stagingChunk, which tests make small).
const defaultStagingChunk = 64 << 20

// stagingBytes is the device's staging chunk.
func (d *Device) stagingBytes() int64 {
	if d.stagingChunk > 0 {
		return d.stagingChunk
	}
	return defaultStagingChunk
}

// NewBuffer creates a buffer of size bytes (a positive multiple of 4).
func (d *Device) NewBuffer(size int64) (*Buffer, error) {
	return d.newBuffer(size, !d.info.UnifiedMemory || d.staged, true)
}

// NewHostBuffer makes a buffer of size bytes in host memory that the
// device copies to and from (Sequence.Copy) and Upload and Download reach
// with a plain memory copy: cached where the device offers it, like the
// staging buffer of transfers. A caller that records its own transfers
// to device-only memory uses it to avoid a submission per transfer.
func (d *Device) NewHostBuffer(size int64) (*Buffer, error) {
	return d.newBuffer(size, false, false)
}

// Mapped reports whether the host reaches the buffer's memory directly:
// Upload and Download are then memory copies, not device transfers.
func (b *Buffer) Mapped() bool { return b.mapped != nil }

// newBuffer makes a buffer that is device local, or host visible and
// mapped; staging buffers are host visible but need not be device local.
func (d *Device) newBuffer(size int64, deviceOnly, deviceLocal bool) (*Buffer, error) {
	if d.closed {
		return nil, ErrClosed
	}
	if size <= 0 || size%4 != 0 {
		return nil, fmt.Errorf("%w: buffer size %d bytes is not a positive multiple of 4", ErrInvalid, size)
	}
	if max := d.maxAllocation(); size > max {
		return nil, fmt.Errorf("%w: buffer of %d bytes exceeds what %s allows in one allocation (%d bytes)", ErrOutOfDeviceMemory, size, d.info.Name, max)
	}
	info := &vk.BufferCreateInfo{
		SType: vk.StructureTypeBufferCreateInfo,
		Size:  vk.DeviceSize(size),
		Usage: vk.BufferUsageFlags(vk.BufferUsageStorageBufferBit | vk.BufferUsageUniformTexelBufferBit |
			vk.BufferUsageTransferSrcBit | vk.BufferUsageTransferDstBit),
		SharingMode: vk.SharingModeExclusive,
	}
	defer info.Free() // the binding's C copy of it
	b := &Buffer{dev: d, size: size}
	if err := vkErr("vkCreateBuffer", into(&b.handle, func(p *vk.Buffer) vk.Result { return vk.CreateBuffer(d.handle, info, nil, p) })); err != nil {
		return nil, err
	}
	var req vk.MemoryRequirements
	vk.GetBufferMemoryRequirements(d.handle, b.handle, &req)
	req.Deref()
	want := vk.MemoryPropertyHostVisibleBit | vk.MemoryPropertyHostCoherentBit
	var mt int
	switch {
	case deviceOnly:
		want = vk.MemoryPropertyDeviceLocalBit
		mt = d.info.memoryType(req.MemoryTypeBits, want)
	case deviceLocal:
		want |= vk.MemoryPropertyDeviceLocalBit
		mt = d.info.memoryType(req.MemoryTypeBits, want)
	default:
		mt = d.info.stagingMemoryType(req.MemoryTypeBits)
	}
	if mt < 0 {
		vk.DestroyBuffer(d.handle, b.handle, nil)
		return nil, fmt.Errorf("%w: no memory type with flags %#x for a buffer", ErrVulkan, want)
	}
	ainfo := &vk.MemoryAllocateInfo{
		SType:           vk.StructureTypeMemoryAllocateInfo,
		AllocationSize:  req.Size,
		MemoryTypeIndex: uint32(mt),
	}
	defer ainfo.Free() // the binding's C copy of it
	if err := vkErr(fmt.Sprintf("vkAllocateMemory(%d bytes)", req.Size), into(&b.memory, func(p *vk.DeviceMemory) vk.Result { return vk.AllocateMemory(d.handle, ainfo, nil, p) })); err != nil {
		vk.DestroyBuffer(d.handle, b.handle, nil)
		return nil, err
	}
	if err := vkErr("vkBindBufferMemory", vk.BindBufferMemory(d.handle, b.handle, b.memory, 0)); err != nil {
		b.destroy()
		return nil, err
	}
	if !deviceOnly {
		if err := vkErr("vkMapMemory", into(&b.mapped, func(p *unsafe.Pointer) vk.Result {
			return vk.MapMemory(d.handle, b.memory, 0, vk.DeviceSize(vk.WholeSize), 0, p)
		})); err != nil {
			b.destroy()
			return nil, err
		}
	}
	d.track(b, fmt.Sprintf("Buffer(%d bytes)", size))
	return b, nil
}

func (d *Device) maxAllocation() int64 {
	if d.info.MaxAllocationBytes > 0 {
		return int64(d.info.MaxAllocationBytes)
	}
	// A Vulkan 1.0 device does not say; its largest device-local heap
	// bounds any allocation.
	return int64(d.info.DeviceLocalBytes)
}

func (b *Buffer) destroy() {
	if b.shared {
		return
	}
	if b.mapped != nil {
		vk.UnmapMemory(b.dev.handle, b.memory)
		b.mapped = nil
	}
	vk.DestroyBuffer(b.dev.handle, b.handle, nil)
	vk.FreeMemory(b.dev.handle, b.memory, nil)
}

// Close frees the buffer. It is idempotent and nil-safe. The caller must
// not close a buffer that a submitted sequence still uses.
func (b *Buffer) Close() error {
	if b == nil || b.closed {
		return nil
	}
	b.closed = true
	if !b.dev.closed {
		b.destroy()
		b.dev.untrack(b)
	}
	return nil
}

func (v View) check() error { return v.checkIn(4) }

// checkIn checks that v lies in its buffer with offset and size
// multiples of granule bytes.
func (v View) checkIn(granule int64) error {
	if v.Buf == nil {
		return fmt.Errorf("%w: view of a nil buffer", ErrInvalid)
	}
	if v.Buf.closed {
		return ErrClosed
	}
	if v.Offset < 0 || v.Size <= 0 || v.Offset+v.Size > v.Buf.size || v.Offset%granule != 0 || v.Size%granule != 0 {
		return fmt.Errorf("%w: view [%d, +%d) of a %d-byte buffer", ErrInvalid, v.Offset, v.Size, v.Buf.size)
	}
	return nil
}

// Upload copies data into the buffer at element offset off.
func (b *Buffer) Upload(off int, data []float32) error {
	return b.floats("Upload", off, data, true)
}

// Download copies len(dst) floats from element offset off into dst.
func (b *Buffer) Download(off int, dst []float32) error {
	return b.floats("Download", off, dst, false)
}

// UploadHalf converts data to fp16 (Half) into the buffer from 16-bit
// element off on. A finite value beyond fp16's range (65520 and more,
// which would round to infinity) is an error, and nothing from its
// stretch of a million values on is written.
func (b *Buffer) UploadHalf(off int, data []float32) error {
	return b.halfStretches("UploadHalf", off, len(data), func(at int64, i int, tmp []uint16) error {
		if j := halves(tmp, data[i:i+len(tmp)]); j >= 0 {
			return fmt.Errorf("%w: value %g (element %d) is beyond fp16's range (65504)", ErrInvalid, data[i+j], i+j)
		}
		return b.transfer(at, unsafe.Slice((*byte)(unsafe.Pointer(&tmp[0])), len(tmp)*2), true)
	})
}

// DownloadHalf reads len(dst) fp16 values from 16-bit element off on
// and converts them to float32.
func (b *Buffer) DownloadHalf(off int, dst []float32) error {
	return b.halfStretches("DownloadHalf", off, len(dst), func(at int64, i int, tmp []uint16) error {
		if err := b.transfer(at, unsafe.Slice((*byte)(unsafe.Pointer(&tmp[0])), len(tmp)*2), false); err != nil {
			return err
		}
		for j, h := range tmp {
			dst[i+j] = Float(h)
		}
		return nil
	})
}

// halfStretches checks the range of n fp16 values from element off and calls
// move for each stretch of them with its byte offset, its first index
// and a host buffer of its length: the conversions go through a bounded
// buffer, never a copy of the whole.
func (b *Buffer) halfStretches(what string, off, n int, move func(at int64, i int, tmp []uint16) error) error {
	if n == 0 {
		return nil
	}
	v := b.Slice(int64(off)*2, int64(n)*2)
	if err := v.checkIn(2); err != nil {
		return fmt.Errorf("gpu: %s %d values at %d: %w", what, n, off, err)
	}
	const stretch = 1 << 20
	tmp := make([]uint16, min(n, stretch))
	for i := 0; i < n; i += stretch {
		m := min(stretch, n-i)
		if err := move(v.Offset+int64(i)*2, i, tmp[:m]); err != nil {
			return err
		}
	}
	return nil
}

// floats checks the range of an Upload or Download and moves the floats.
func (b *Buffer) floats(what string, off int, host []float32, up bool) error {
	if len(host) == 0 {
		return nil
	}
	v := b.Floats(off, len(host))
	if err := v.check(); err != nil {
		return fmt.Errorf("gpu: %s %d floats at %d: %w", what, len(host), off, err)
	}
	return b.transfer(v.Offset, unsafe.Slice((*byte)(unsafe.Pointer(&host[0])), len(host)*4), up)
}

// transfer moves host bytes to (up) or from the buffer at a byte offset.
func (b *Buffer) transfer(offset int64, host []byte, up bool) error {
	if b.mapped != nil {
		dev := unsafe.Slice((*byte)(unsafe.Add(b.mapped, offset)), len(host))
		if up {
			copy(dev, host)
		} else {
			copy(host, dev)
		}
		return nil
	}
	// Device-only memory goes through the device's staging buffer and
	// copy sequence, kept from one transfer to the next (one transfer at a
	// time per device).
	d := b.dev
	d.xfer.Lock()
	defer d.xfer.Unlock()
	chunk := min(int64(len(host)), d.stagingBytes())
	if d.staging == nil || d.staging.size < chunk {
		if d.staging != nil {
			d.staging.Close()
			d.staging = nil
		}
		staging, err := d.newBuffer(max(chunk, min(d.stagingBytes(), 4<<20)), false, false)
		if err != nil {
			return err
		}
		d.staging = staging
	}
	if d.copySeq == nil {
		seq, err := d.NewSequence(SequenceOptions{})
		if err != nil {
			return err
		}
		d.copySeq = seq
	}
	staging, seq := d.staging, d.copySeq
	for done := int64(0); done < int64(len(host)); done += chunk {
		n := min(chunk, int64(len(host))-done)
		stage := unsafe.Slice((*byte)(staging.mapped), n)
		src, dst := staging.Slice(0, n), b.Slice(offset+done, n)
		if up {
			copy(stage, host[done:done+n])
		} else {
			src, dst = dst, src
		}
		if err := seq.Reset(); err != nil {
			return err
		}
		if err := seq.Copy(dst, src); err != nil {
			return err
		}
		if err := seq.Submit(); err != nil {
			return err
		}
		if !up {
			copy(host[done:done+n], stage)
		}
	}
	return nil
}
