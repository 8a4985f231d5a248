// Package npy reads the weight files of tensorflow-vgg (vgg16.npy,
// vgg19.npy), numpy .npy and .npz arrays and PyTorch state dicts, and
// writes .npy and .npz.
//
//	layers, err := npy.ReadWeights("vgg16.npy")
//	fc6 := layers["fc6"] // fc6.W.Shape is [25088 4096], fc6.B.Shape [4096]
//
// Every array comes back as float32 in C order (Array); float16 and float64
// data are converted, big-endian data is swapped, Fortran-order data is
// rearranged. Other dtypes are refused with ErrDType.
//
// # Weight files
//
// ReadWeights and DecodeWeights detect the format from the first bytes:
//
//   - An .npy of a pickled dict, as np.save({name: [W, b]}) writes it: a 0-d
//     object array whose data is a pickle. The published files were written
//     by Python 2 (protocol 2, byte strings, numpy.core.multiarray); files
//     written by Python 3 with numpy 1.x (protocol 2 to 5) or numpy 2.x
//     (numpy._core) load too. Each layer's value may be [W, b], (W, b),
//     {0: W, 1: b} or {'weights': W, 'biases': b}; dicts may be
//     collections.OrderedDict.
//   - An .npz (zip, stored or deflated) with one array per layer_W and
//     layer_b member, or per layer/0 and layer/1.
//   - A bare pickle of the dict (starting with the PROTO opcode).
//
// ReadWeightsChecked and DecodeWeightsChecked take a ShapeCheck as well,
// called with each array's layer, W or b, and declared shape before that
// array's data is read or any memory is set aside for it, so that a caller
// that knows the shapes it can use (vgg.LoadWeights does) refuses a file
// declaring others at the cost of reading its headers:
//
//	layers, err := npy.ReadWeightsChecked(path, func(layer string, which int, shape []int) error {
//		if len(shape) > 4 {
//			return fmt.Errorf("layer %s: %d dimensions", layer, len(shape))
//		}
//		return nil
//	})
//
// A refusal comes back wrapped, matching ErrFormat and the check's error.
//
// # PyTorch files
//
// ReadTorch and DecodeTorch read what torch.save(model.state_dict(), path)
// writes, and return the float tensors in the state dict's order:
//
//	entries, err := npy.ReadTorch("vgg16.pth")
//	// entries[0].Name is "features.0.weight", Array.Shape [64 3 3 3]
//
// Both formats are read: the zip of PyTorch 1.6 and later (<folder>/data.pkl,
// a pickle, and <folder>/data/<key>, each storage's raw bytes, stored
// uncompressed; a <folder>/byteorder of "big" is honoured) and the older
// format of _use_new_zipfile_serialization=False (pickles followed by the
// storages). The pickle may be an OrderedDict or a dict of tensors as
// torch._utils._rebuild_tensor, _rebuild_tensor_v2 or _rebuild_tensor_v3
// (an UntypedStorage and a dtype, as PyTorch 2.x writes some dtypes)
// rebuild them, wrapped or not in _rebuild_parameter,
// _rebuild_parameter_with_state or torch._tensor._rebuild_from_type_v2.
// Storages may be float16, bfloat16, float32 or float64 (FloatStorage,
// HalfStorage, ...); integer and boolean tensors, such as batch norm's
// num_batches_tracked, are left out; complex ones are refused
// with ErrDType. Offsets and strides are followed (transposed, sliced,
// expanded and shared-storage tensors come back in C order), each checked
// against its storage's length before anything is read or allocated. The
// device a tensor was saved from does not matter. Checkpoints that hold more
// than a state dict (an epoch, an optimizer), TorchScript archives and
// sparse, quantized or meta tensors are refused with ErrFormat naming what
// is not supported. CRC-32s are not checked (PyTorch 2.5 can write files
// without them): the pickle and the lengths are.
//
// ReadTorchChecked and DecodeTorchChecked call a TorchShapeCheck with the
// name and shape of every float tensor once the pickle is read, before any
// storage is looked for or read.
//
// IsTorch tells a torch.save file by its first bytes, so that a caller can
// choose between ReadTorch and ReadWeights.
//
// # The pickle machine
//
// Pickles are run by a small unpickler of this package's own. It knows the
// opcodes such files use (protocols 0 to 5, without out-of-band buffers;
// protocol 0's text strings only up to 1 MB each) and calls no Python: it recognises a whitelist of globals, numpy's
// _reconstruct, ndarray, dtype and _frombuffer, _codecs.encode (how Python 3
// pickles bytes at protocol 2), bytes, bytearray and collections.OrderedDict,
// and implements each itself. Reading a torch.save file, it also knows the
// torch globals above and persistent ids (storages). Any other global is an
// error that names it.
//
// # Memory
//
// String and bytes payloads above a few KB are not read while unpickling:
// they stay offsets into the input, and each array is read once, straight
// from the io.ReaderAt into its float32 storage (little-endian float32 with
// no staging copy). Loading a float32 weight file from disk therefore
// allocates about the file's size and little else: TestPeakMemory measures
// 1.002x for a 49 MB Python-2-style .npy (49.1 MB allocated in all, peak
// heap growth 49.0 MB) and 1.000x for the same layers as a stored .npz.
// float16 files give float32 arrays twice their size. Reading from an
// in-memory DecodeWeights input adds the input itself. ReadTorch reads each
// contiguous tensor the same way (TestTorchPeakMemory: 1.001x for a 31 MB
// float32 state dict); a strided tensor is gathered from one read of the
// range it spans, or run by run when that range is over twice its size.
//
// # Untrusted input
//
// The readers do not panic on any input and allocate nothing a header or a
// length opcode merely claims: every length is checked against the bytes
// left in the input before allocating, shape products are checked for
// overflow, and the unpickler's stack, mark depth and memo are bounded. The
// output of a pickle may not exceed twice its input (float16 data doubles)
// however it shares arrays; a torch state dict's tensors may not exceed four
// times their input (tied weights share one storage). Every error wraps
// ErrFormat, ErrTruncated (which also matches ErrFormat) or ErrDType and
// says what is wrong and where.
//
// A deflated .npz member is the one input that can hold more than its size,
// up to 1032 times (deflate's longest match, 258 bytes, in two bits). Its
// npy header is inflated first (at most 64 KB), and the size it declares,
// header and data, must equal the zip's uncompressed size, fit in what the
// compressed bytes can inflate to (else ErrTruncated), and keep the
// archive's arrays within four times its size and 16 MiB as float32 (else
// ErrFormat: a bomb, or data far more compressible than weights); a shape
// check, if any, runs before these. The stream is then inflated for the
// declared size and one byte more, never further, into storage that grows
// as data arrives beyond what the compressed bytes plausibly hold, so a
// stream that ends early (ErrTruncated) or goes on (ErrFormat) costs what
// it delivered, and a lying zip size costs nothing. TestNPZBomb: a 1 MiB
// member declaring [10^6,10^6] float32 and inflating to 1 GiB of zeros is
// refused in under 10 ms with 0.06 MB allocated (before: 3 s, 2.1 GB
// allocated, 2.2 GB resident); a 4 MB array with 1 GiB of stream behind it
// costs 3.9 MB; 256 MiB of real zeros in 265 KB is refused as a bomb with
// nothing inflated. TestTorchBomb: torch tensors declaring [10^6,10^6], by
// a storage's size or by zero strides, are refused with 0.01 MB allocated.
//
// # Fuzzing
//
// FuzzDecodeWeights, FuzzReadNPY and FuzzDecodeTorch exercise the readers;
// vgg's FuzzLoadWeights and torchvision's FuzzBuild run the whole path
// from bytes to a graph's layer shapes, checking each input's allocation.
// Their corpus is kept in testdata/fuzz at the repository root.
//
// Last runs (Go 1.26, -parallel 1 on two shared cores, with the checks
// above): FuzzLoadWeights for 10 minutes, 1,059,098 inputs (374 new
// coverage, a corpus of 481), and FuzzBuild for 4 minutes, 194,487 inputs
// (153 new, a corpus of 169), with no failure: no panic, no input
// allocating more than its bound (64 MiB and 8 times its size for
// FuzzLoadWeights, 16 times for FuzzBuild).
package npy
