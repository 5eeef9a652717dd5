package transforms

import "fmt"

// MaxPixels bounds the pixel count of an image a decoder accepts before
// allocating it: PIL's decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS,
// 2 × 89,478,485), so a 100-byte file claiming 65535×65535 pixels is an
// error, not 12 GiB.
const MaxPixels = 2 * 89478485

// checkPixels returns an error for an image too large to decode.
func checkPixels(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image of %dx%d pixels", w, h)
	}
	if int64(w)*int64(h) > MaxPixels {
		return fmt.Errorf("image of %dx%d pixels is over the %d-pixel limit (a decompression bomb?)", w, h, MaxPixels)
	}
	return nil
}
