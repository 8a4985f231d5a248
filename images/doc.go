// Package images loads photographs into the float32 RGB arrays that VGG16 and
// VGG19 take, following tensorflow-vgg's utils.load_image.
//
// An RGB holds an image as float32 red, green and blue in [0, 1], row-major,
// height x width x 3 (HWC). LoadVGG does what load_image does: decode, cut the
// centred square of the short side (CenterCrop), resize it to 224 x 224
// (Resize). Batch stacks images into the [N, H, W, 3] array a network runs on.
// Subtracting the per-channel mean and reordering to BGR is the network's job,
// as it is in tensorflow-vgg, not this package's.
//
// # Decoding
//
// Decode and Load read JPEG, PNG and GIF (its first frame, at the frame's own
// bounds). Channels are scaled to [0, 1] from their stored depth: 8-bit values
// are divided by 255, 16-bit PNG values by 65535. Greyscale is copied to all
// three channels.
//
// Alpha is dropped, not composited onto a background: each pixel's colour is
// taken as stored. For straight (non-premultiplied) alpha, as in PNG, that is
// the file's colour even where alpha is 0, which is what dropping the fourth
// channel of skimage.io.imread's array gives; PNG palette entries made
// transparent by a tRNS chunk keep their colour too. A GIF's transparent
// palette entry has no colour in Go's decoder and reads as black. Images that
// Go holds premultiplied are un-premultiplied first.
//
// JPEG is decoded by Go's image/jpeg, whose results differ slightly from
// libjpeg's (as used by Pillow under skimage.io.imread): Go upsamples
// subsampled chroma by replication where libjpeg interpolates, and its inverse
// DCT and colour conversion round differently. After LoadVGG the difference
// is 0.0014 on average, 0.023 at most, for chelsea.jpg (colour, 4:2:0), and
// 5e-5 on average for rocket_gray.jpg (greyscale); PNG decodes identically.
//
// Before decoding, the header's dimensions are checked (image.DecodeConfig):
// images of more than MaxPixels pixels are refused without allocating them.
// Malformed input gives an error that wraps ErrFormat, ErrUnreadable,
// ErrEmpty or ErrTooLarge; no input makes Decode panic.
//
// # Resizing
//
// Resize reproduces skimage.transform.resize(image, (h, w)) with its current
// defaults, as scikit-image 0.19.3 computes them (the tests check against
// it): where an axis shrinks by a factor s > 1, a
// Gaussian pre-filter with sigma = (s-1)/2 (truncated at 4 sigma, mirror
// boundary) against aliasing; then bilinear interpolation at pixel centres,
// input coordinate (i+0.5)*s - 0.5, mirrored at the borders; then clipping to
// the input's range. Computation is in float64.
//
// This filter was chosen over an area average or a scaled triangle filter
// because it is what tensorflow-vgg's preprocessing does, so the network sees
// the inputs its reference outputs were made with, and it is fully specified
// by the formulas above. Checked against scikit-image 0.19.3 itself
// (testdata/images/golden, made by make_golden.py) at sizes up and down, the
// results agree within 6e-8, float32 rounding. For comparison, on a
// photograph cropped and resized to 224 x 224, an area average differs from
// skimage by 0.006 on average (0.13 at most) and Pillow's bilinear, a
// triangle filter widened by the shrink factor, by 0.004 (0.16 at most).
package images
