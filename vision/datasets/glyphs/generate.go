package glyphs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gtl-dev/gtl/npy"
)

// Set names the characters a glyph set has a class for.
type Set string

const (
	// Digits is the ten classes 0 to 9.
	Digits Set = "digits"
	// Letters is the 26 classes A to Z (capitals).
	Letters Set = "letters"
)

// Classes returns the set's class names, which are also its characters.
func (s Set) Classes() ([]string, error) {
	var first, last rune
	switch s {
	case Digits:
		first, last = '0', '9'
	case Letters:
		first, last = 'A', 'Z'
	default:
		return nil, fmt.Errorf("glyphs: unknown set %q (want digits or letters)", string(s))
	}
	var cs []string
	for r := first; r <= last; r++ {
		cs = append(cs, string(r))
	}
	return cs, nil
}

// ManifestName is the file in a glyph set's folder that records how it was
// made; its presence marks the folder as a glyph set Generate may replace.
const ManifestName = "glyphs.json"

// Format identifies the layout and generator version in a manifest.
const Format = "gtl-glyphs/2"

// ErrNotEmpty is returned (wrapped) by Generate for a folder that holds
// other files and no glyph-set manifest, unless Options.Force is set.
var ErrNotEmpty = errors.New("folder is not empty and is not a glyph set")

// Options configures Generate. The zero value of each field means its
// default.
type Options struct {
	// Set is the characters to draw; default Digits.
	Set Set
	// TrainPerClass is the number of training images per class; default 600.
	TrainPerClass int
	// ValPerClass is the number of validation images per class; default 200.
	ValPerClass int
	// Size is the side of the square images in pixels; default 28.
	Size int
	// Seed seeds every random draw; default 0.
	Seed uint64
	// FontDirs, when set, are searched recursively for .ttf, .otf and .ttc
	// fonts instead of using the pinned list; a folder named here that does
	// not exist is an error. Default none: the pinned fonts, PinnedFonts,
	// every one of which must be installed with its pinned SHA-256 (else a
	// *PinnedFontsError), so that the set depends on nothing else installed.
	FontDirs []string
	// AllFonts uses every usable face under DefaultFontDirs instead of the
	// pinned list: more variety, but the set then depends on what else is
	// installed. Default false; not with FontDirs.
	AllFonts bool
	// Force lets Generate write into a non-empty folder that is not a glyph
	// set; its train/ and val/ are replaced. Default false.
	Force bool
	// Workers is the number of images drawn at once; default GOMAXPROCS.
	// It does not change the output.
	Workers int
}

// Font sources a Manifest records.
const (
	// FontsPinned is the default: the pinned list, PinnedFonts.
	FontsPinned = "pinned"
	// FontsAll is every usable face under DefaultFontDirs (Options.AllFonts).
	FontsAll = "all"
	// FontsDirs is every usable face under Options.FontDirs.
	FontsDirs = "dirs"
)

// Manifest is what glyphs.json records: the resolved options, the fonts
// used (with each file's SHA-256) and a digest of the images, enough to make
// the same set again and to tell two sets apart. It does not depend on the
// number of workers, so two machines that draw the same set write the same
// manifest, byte for byte.
type Manifest struct {
	Format        string   `json:"format"`
	Set           Set      `json:"set"`
	Classes       []string `json:"classes"`
	TrainPerClass int      `json:"train_per_class"`
	ValPerClass   int      `json:"val_per_class"`
	Size          int      `json:"size"`
	Seed          uint64   `json:"seed"`
	// FontSource is FontsPinned, FontsAll or FontsDirs.
	FontSource string `json:"font_source"`
	// FontDirs are the folders searched (FontsAll, FontsDirs).
	FontDirs   []string   `json:"font_dirs,omitempty"`
	Fonts      []FontInfo `json:"fonts"`
	Distortion Distortion `json:"distortion"`
	// Images is the number of images written.
	Images int `json:"images"`
	// ImagesSHA256 is the hex SHA-256 of the lines "<sha256>  <path>\n"
	// (sha256sum's format) of every image, paths relative to the set's
	// folder, in byte order; in a shell:
	//
	//	cd DIR && find train val -name '*.png' | LC_ALL=C sort | xargs sha256sum | sha256sum
	ImagesSHA256 string `json:"images_sha256"`
}

// withDefaults fills the zero fields of o and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Set == "" {
		o.Set = Digits
	}
	if o.TrainPerClass == 0 {
		o.TrainPerClass = 600
	}
	if o.ValPerClass == 0 {
		o.ValPerClass = 200
	}
	if o.Size == 0 {
		o.Size = 28
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if _, err := o.Set.Classes(); err != nil {
		return o, err
	}
	const maxPerClass = 1_000_000
	if o.TrainPerClass < 1 || o.TrainPerClass > maxPerClass {
		return o, fmt.Errorf("glyphs: train images per class %d: want 1..%d", o.TrainPerClass, maxPerClass)
	}
	if o.ValPerClass < 1 || o.ValPerClass > maxPerClass {
		return o, fmt.Errorf("glyphs: val images per class %d: want 1..%d", o.ValPerClass, maxPerClass)
	}
	if o.Size < 8 || o.Size > 512 {
		return o, fmt.Errorf("glyphs: image size %d: want 8..512", o.Size)
	}
	if o.Workers < 1 {
		return o, fmt.Errorf("glyphs: workers %d: want at least 1", o.Workers)
	}
	if o.AllFonts && len(o.FontDirs) > 0 {
		return o, fmt.Errorf("glyphs: all fonts and font folders %s: want one of them", strings.Join(o.FontDirs, ", "))
	}
	return o, nil
}

// Generate draws a glyph set into dir (created if missing) and returns its
// manifest, which it also writes to dir/glyphs.json once every image is
// written. A dir holding a previous glyph set is replaced; any other
// non-empty dir is refused with ErrNotEmpty unless o.Force. Each file is
// written atomically.
func Generate(dir string, o Options) (Manifest, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Manifest{}, err
	}
	classes, _ := o.Set.Classes()
	chars := make([]rune, len(classes))
	for i, c := range classes {
		chars[i] = []rune(c)[0]
	}
	var (
		faces  []face
		source string
		dirs   []string
	)
	switch {
	case len(o.FontDirs) > 0:
		source, dirs = FontsDirs, o.FontDirs
		faces, err = findFaces(dirs, chars, true)
	case o.AllFonts:
		source, dirs = FontsAll, DefaultFontDirs
		faces, err = findFaces(dirs, chars, false)
	default:
		source = FontsPinned
		faces, err = pinnedFaces(PinnedFonts, chars)
	}
	if err != nil {
		return Manifest{}, err
	}
	if len(faces) == 0 {
		return Manifest{}, fmt.Errorf("glyphs: no usable fonts with all of %s…%s in %s (install fonts-dejavu-core or name a font folder)",
			classes[0], classes[len(classes)-1], strings.Join(dirs, ", "))
	}
	m := Manifest{
		Format: Format, Set: o.Set, Classes: classes,
		TrainPerClass: o.TrainPerClass, ValPerClass: o.ValPerClass,
		Size: o.Size, Seed: o.Seed, FontSource: source, FontDirs: dirs, Distortion: DefaultDistortion,
	}
	for _, f := range faces {
		m.Fonts = append(m.Fonts, f.info)
	}

	if err := prepareDir(dir, o.Force); err != nil {
		return Manifest{}, err
	}
	type job struct{ split, class, i int }
	splits := []struct {
		name string
		n    int
	}{{"train", o.TrainPerClass}, {"val", o.ValPerClass}}
	for _, sp := range splits {
		for _, c := range classes {
			if err := os.MkdirAll(filepath.Join(dir, sp.name, c), 0o755); err != nil {
				return Manifest{}, fmt.Errorf("glyphs: %w", err)
			}
		}
	}

	// sums[k] is the SHA-256 of image k in job order (train then val, class
	// by class, index by index).
	perSplit := []int{len(classes) * o.TrainPerClass, len(classes) * o.ValPerClass}
	sums := make([][sha256.Size]byte, perSplit[0]+perSplit[1])
	jobIndex := func(j job) int { return j.split*perSplit[0] + j.class*splits[j.split].n + j.i }
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		stop     = make(chan struct{})
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; close(stop) })
	}
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newRenderer(m.Distortion, o.Size)
			var buf bytes.Buffer
			for j := range jobs {
				rng := rand.New(rand.NewPCG(o.Seed, stream(j.split, j.class, j.i)))
				f := faces[rng.IntN(len(faces))]
				img := r.render(f.outlines[j.class], rng)
				buf.Reset()
				if err := png.Encode(&buf, img); err != nil {
					fail(fmt.Errorf("glyphs: encode png: %w", err))
					continue
				}
				sums[jobIndex(j)] = sha256.Sum256(buf.Bytes())
				p := filepath.Join(dir, splits[j.split].name, classes[j.class], strconv.Itoa(j.i)+".png")
				if err := npy.WriteFileAtomic(p, buf.Bytes()); err != nil {
					fail(fmt.Errorf("glyphs: %w", err))
				}
			}
		}()
	}
feed:
	for s, sp := range splits {
		for c := range classes {
			for i := range sp.n {
				select {
				case jobs <- job{s, c, i}:
				case <-stop:
					break feed
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return Manifest{}, firstErr
	}
	lines := make([]string, 0, len(sums))
	for s, sp := range splits {
		for c, class := range classes {
			for i := range sp.n {
				sum := sums[jobIndex(job{s, c, i})]
				lines = append(lines, hex.EncodeToString(sum[:])+"  "+sp.name+"/"+class+"/"+strconv.Itoa(i)+".png\n")
			}
		}
	}
	m.Images, m.ImagesSHA256 = len(lines), digestLines(lines)

	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("glyphs: manifest: %w", err)
	}
	if err := npy.WriteFileAtomic(filepath.Join(dir, ManifestName), append(js, '\n')); err != nil {
		return Manifest{}, fmt.Errorf("glyphs: %w", err)
	}
	return m, nil
}

// digestLines is the hex SHA-256 of lines (sha256sum's "<sum>  <path>\n")
// joined in the byte order of their paths.
func digestLines(lines []string) string {
	sort.Slice(lines, func(a, b int) bool { return lines[a][2*sha256.Size+2:] < lines[b][2*sha256.Size+2:] })
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// stream gives each image its own random stream, so that the output does
// not depend on which worker draws it.
func stream(split, class, i int) uint64 {
	x := uint64(split)<<56 ^ uint64(class)<<40 ^ uint64(i)
	// splitmix64's finaliser spreads nearby keys apart.
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// prepareDir makes dir ready for a new set: created when missing; emptied
// of a previous set's train/, val/ and manifest; refused when it holds
// anything else, unless force.
func prepareDir(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("glyphs: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("glyphs: output folder: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	if !force && !IsGlyphSet(dir) {
		return fmt.Errorf("glyphs: %s: %w", dir, ErrNotEmpty)
	}
	// The manifest goes first: a set left half-replaced is not a glyph set.
	for _, name := range []string{ManifestName, "train", "val"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("glyphs: clear previous set: %w", err)
		}
	}
	return nil
}

// IsGlyphSet reports whether dir holds a manifest written by Generate.
func IsGlyphSet(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return false
	}
	var m struct {
		Format string `json:"format"`
	}
	return json.Unmarshal(data, &m) == nil && strings.HasPrefix(m.Format, "gtl-glyphs/")
}
