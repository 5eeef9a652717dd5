package transforms

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

// FuzzDecode: no JPEG or PNG input panics or allocates past MaxPixels,
// through libjpeg-turbo (full, scaled and cropped decodes) and Go's
// decoders; a decoded image has as many pixels as it says.
func FuzzDecode(f *testing.F) {
	good := encodeJPEG(f, testImage(40, 24, 4), 90)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(encodeJPEG(f, image.NewGray(image.Rect(0, 0, 9, 7)), 50))
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, testImage(17, 5, 5)); err != nil {
		f.Fatal(err)
	}
	f.Add(pngBuf.Bytes())
	bomb := append([]byte(nil), pngBuf.Bytes()...)
	copy(bomb[16:24], []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff}) // IHDR claims 65535×65535
	f.Add(bomb)
	f.Add([]byte("not an image"))
	center := func(w, h int) image.Rectangle { return image.Rect(w/4, h/4, w/4+max(w/2, 1), h/4+max(h/2, 1)) }
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcount.Hit("FuzzDecodeImage")
		check := func(name string, img RGB, err error) {
			if err == nil && (img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H || img.W*img.H > MaxPixels) {
				t.Fatalf("%s: %dx%d with %d bytes", name, img.W, img.H, len(img.Pix))
			}
		}
		img, err := Decode(data)
		check("Decode", img, err)
		img, err = DecodeGo(data)
		check("DecodeGo", img, err)
		img, err = DecodeCrop(data, center, nil)
		check("DecodeCrop", img, err)
		if IsJPEG(data) {
			img, err = DecodeScaled(data, 4, nil)
			check("DecodeScaled", img, err)
		}
	})
}
