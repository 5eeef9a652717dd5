//go:build !cgo

package transforms

import (
	"errors"
	"image"
)

// JPEGDecoder names the JPEG decoder [Decode] and [Load] use.
const JPEGDecoder = "image/jpeg"

// decodeJPEG decodes with Go's image/jpeg when cgo (and so libjpeg-turbo)
// is not available; its pixels differ from PIL's by a few levels.
func decodeJPEG(data []byte, scaleDenom int, dst []uint8) (RGB, error) {
	if scaleDenom != 1 {
		return RGB{}, errors.New("scaled decoding needs libjpeg-turbo (build with cgo)")
	}
	return DecodeGo(data)
}

// decodeJPEGCrop decodes in full and crops without libjpeg-turbo.
func decodeJPEGCrop(data []byte, choose func(w, h int) image.Rectangle, dst []uint8) (RGB, error) {
	img, err := DecodeGo(data)
	if err != nil {
		return RGB{}, err
	}
	return cropChosen(img, choose)
}
