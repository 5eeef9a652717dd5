package transforms

import "fmt"

// MaxPixels is the decoders' own backstop against decompression bombs,
// checked on the size libjpeg-turbo or Go's decoders read from the header,
// before the pixels are allocated: PIL's error limit (2 × Image.
// MAX_IMAGE_PIXELS). DecodeOptions.MaxPixels (DefaultMaxPixels) is checked
// first on what image.DecodeConfig reads; this one also covers headers
// that Go's parser cannot read but libjpeg-turbo can. A larger limit set
// with SetDefaultDecodeOptions raises it; a negative one turns it off.
const MaxPixels = 2 * 89478485

// checkPixels returns an error for an image too large to decode.
func checkPixels(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image of %dx%d pixels", w, h)
	}
	limit := int64(MaxPixels)
	if o := DefaultDecodeOptions().MaxPixels; o < 0 {
		return nil
	} else if o > limit {
		limit = o
	}
	if n := int64(w) * int64(h); n > limit {
		return fmt.Errorf("%w: a %d×%d image = %d pixels, over the limit of %d (a decompression bomb?)", ErrTooManyPixels, w, h, n, limit)
	}
	return nil
}
