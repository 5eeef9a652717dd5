package datasets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gtl-dev/gtl/env"
)

// IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels).
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// ReadIDXImages reads an IDX file of unsigned-byte images (N×H×W).
func ReadIDXImages(r io.Reader) (n, h, w int, pix []uint8, err error) {
	var hdr [4]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("header: %w", err)
	}
	if hdr[0] != idxImagesMagic {
		return 0, 0, 0, nil, fmt.Errorf("magic %#08x, want %#08x (unsigned-byte images)", hdr[0], idxImagesMagic)
	}
	n, h, w = int(hdr[1]), int(hdr[2]), int(hdr[3])
	if n <= 0 || h <= 0 || w <= 0 || h > 1<<32/w || n > 1<<32/(h*w) { // 2^32 pixels at most, without overflow
		return 0, 0, 0, nil, fmt.Errorf("implausible shape %d×%d×%d", n, h, w)
	}
	pix, err = readN(r, int64(n)*int64(h)*int64(w))
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("pixels of %d images of %d×%d: %w", n, h, w, err)
	}
	return n, h, w, pix, nil
}

// ReadIDXLabels reads an IDX file of unsigned-byte labels.
func ReadIDXLabels(r io.Reader) ([]uint8, error) {
	var hdr [2]uint32
	if err := binary.Read(r, binary.BigEndian, &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr[0] != idxLabelsMagic {
		return nil, fmt.Errorf("magic %#08x, want %#08x (unsigned-byte labels)", hdr[0], idxLabelsMagic)
	}
	if hdr[1] == 0 || hdr[1] > 1<<30 {
		return nil, fmt.Errorf("implausible label count %d", hdr[1])
	}
	labels, err := readN(r, int64(hdr[1]))
	if err != nil {
		return nil, fmt.Errorf("%d labels: %w", hdr[1], err)
	}
	return labels, nil
}

// readN reads exactly n bytes. Memory grows with what is read (at most
// 64 MiB ahead of it), never with a count from a header that the data does
// not back: a gzipped stream's length is not known in advance.
func readN(r io.Reader, n int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(n, 64<<20)))
	got, err := io.CopyN(&buf, r, n)
	if err == io.EOF {
		return nil, fmt.Errorf("%d of %d bytes: %w", got, n, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// openMaybeGzip opens path, or path+".gz", decompressing gzip transparently.
func openMaybeGzip(path string) (io.ReadCloser, string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) && !strings.HasSuffix(path, ".gz") {
		path += ".gz"
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, path, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, path, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, path, fmt.Errorf("gzip: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, path, nil
}

// Split names one part of a data set.
type Split string

// The splits of a data set that ships a fixed test set.
const (
	Train Split = "train"
	Test  Split = "test"
)

// FashionMNISTClasses are Fashion-MNIST's class names, by label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// LoadFashionMNIST reads one split of Fashion-MNIST from dir (the IDX
// files, gzipped or not). An empty dir means the folder named by
// GTL_FASHION_MNIST_DIR, by default Debian's dataset-fashion-mnist.
func LoadFashionMNIST(dir string, split Split) (*Images, error) {
	if dir == "" {
		dir = env.FashionMNISTDir.Value()
	}
	prefix := map[Split]string{Train: "train", Test: "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("datasets: fashion-mnist: unknown split %q (want train or test)", split)
	}
	read := func(name string, fn func(io.Reader) error) error {
		rc, path, err := openMaybeGzip(filepath.Join(dir, name))
		if err != nil {
			if os.IsNotExist(err) {
				return fmt.Errorf("datasets: fashion-mnist: %s not found (install Debian's dataset-fashion-mnist, or set %s): %w", path, env.FashionMNISTDir.Name, err)
			}
			return fmt.Errorf("datasets: fashion-mnist: %s: %w", path, err)
		}
		defer rc.Close()
		if err := fn(rc); err != nil {
			return fmt.Errorf("datasets: fashion-mnist: %s: %w", path, err)
		}
		return nil
	}
	im := &Images{Channels: 1, Classes: FashionMNISTClasses}
	var n int
	if err := read(prefix+"-images-idx3-ubyte", func(r io.Reader) (err error) {
		n, im.Height, im.Width, im.Pix, err = ReadIDXImages(r)
		return err
	}); err != nil {
		return nil, err
	}
	var labels []uint8
	if err := read(prefix+"-labels-idx1-ubyte", func(r io.Reader) (err error) {
		labels, err = ReadIDXLabels(r)
		return err
	}); err != nil {
		return nil, err
	}
	if len(labels) != n {
		return nil, fmt.Errorf("datasets: fashion-mnist %s: %d images but %d labels", split, n, len(labels))
	}
	im.Labels = make([]int, n)
	for i, l := range labels {
		if int(l) >= len(im.Classes) {
			return nil, fmt.Errorf("datasets: fashion-mnist %s: label %d of image %d, want < %d", split, l, i, len(im.Classes))
		}
		im.Labels[i] = int(l)
	}
	return im, nil
}
