package glyphs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// DefaultFontDirs are the folders searched for fonts with Options.AllFonts;
// those that do not exist are skipped.
var DefaultFontDirs = []string{"/usr/share/fonts", "/usr/local/share/fonts"}

// ExcludedFonts are case-insensitive parts of font names or file names
// whose faces are never used: symbol and picture fonts that map ordinary
// characters to pictures (URW's D050000L is Zapf Dingbats).
var ExcludedFonts = []string{"dingbat", "d050000l", "symbol", "wingding", "webding", "emoji"}

// excluded reports whether a face is in ExcludedFonts.
func excluded(name, path string) bool {
	s := strings.ToLower(name + " " + filepath.Base(path))
	for _, x := range ExcludedFonts {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// FontInfo describes one font face used for a glyph set.
type FontInfo struct {
	// Path is the font file.
	Path string `json:"path"`
	// Index is the face's index within a font collection (.ttc), else 0.
	Index int `json:"index,omitempty"`
	// Name is the face's full name from the font, e.g. "DejaVu Sans Bold".
	Name string `json:"name"`
	// Family and Style are the face's family and style names from the font
	// (typographic names where it has them), e.g. "DejaVu Sans" and "Bold".
	Family string `json:"family"`
	Style  string `json:"style"`
	// Package is the Debian package that installs the file, for the pinned
	// fonts; empty otherwise.
	Package string `json:"package,omitempty"`
	// SHA256 is the hex SHA-256 of the font file, so a set can be traced to
	// the exact fonts that drew it.
	SHA256 string `json:"sha256"`
}

// outline is one glyph's path in font units scaled to 1 em = 1, Y down.
type outline struct {
	segs                   []seg
	minX, minY, maxX, maxY float64
}

// seg is one path segment: op is sfnt's segment op, p its (up to three)
// points.
type seg struct {
	op sfnt.SegmentOp
	p  [3][2]float64
}

// face is a usable font: its description and the outline of every class.
type face struct {
	info     FontInfo
	outlines []outline // indexed like the classes
}

// fontExts are the file extensions searched for fonts.
var fontExts = map[string]bool{".ttf": true, ".otf": true, ".ttc": true, ".otc": true}

// FindFonts returns the font faces under dirs (searched recursively, in
// sorted path order) that have a drawable outline for every rune in chars.
// A folder that does not exist is an error; a font file that does not parse
// or lacks a character is skipped, and so are ExcludedFonts.
func FindFonts(dirs []string, chars []rune) ([]FontInfo, error) {
	faces, err := findFaces(dirs, chars, true)
	if err != nil {
		return nil, err
	}
	infos := make([]FontInfo, len(faces))
	for i, f := range faces {
		infos[i] = f.info
	}
	return infos, nil
}

// findFaces walks dirs for fonts with every rune in chars. With strict, a
// missing folder is an error; without, it is skipped (the defaults).
func findFaces(dirs []string, chars []rune, strict bool) ([]face, error) {
	var paths []string
	seen := map[string]bool{}
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if err != nil {
			if !strict && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("glyphs: font directory %s: %w", dir, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("glyphs: font directory %s: not a directory", dir)
		}
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && fontExts[strings.ToLower(filepath.Ext(p))] && !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("glyphs: font directory %s: %w", dir, err)
		}
	}
	sort.Strings(paths)
	var faces []face
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		faces = append(faces, loadFaces(p, data, chars)...)
	}
	return faces, nil
}

// loadFaces parses one font file's data and returns its faces that draw
// every rune in chars; data that does not parse gives none.
func loadFaces(path string, data []byte, chars []rune) []face {
	sum := sha256.Sum256(data)
	coll, err := sfnt.ParseCollection(data)
	if err != nil {
		return nil
	}
	var faces []face
	var buf sfnt.Buffer
	for i := 0; i < coll.NumFonts(); i++ {
		f, err := coll.Font(i)
		if err != nil {
			continue
		}
		name, err := f.Name(&buf, sfnt.NameIDFull)
		if err != nil || name == "" {
			name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
		if excluded(name, path) {
			continue
		}
		outs, ok := outlines(f, &buf, chars)
		if !ok {
			continue
		}
		faces = append(faces, face{
			info: FontInfo{Path: path, Index: i, Name: name,
				Family: firstName(f, &buf, sfnt.NameIDTypographicFamily, sfnt.NameIDFamily),
				Style:  firstName(f, &buf, sfnt.NameIDTypographicSubfamily, sfnt.NameIDSubfamily),
				SHA256: hex.EncodeToString(sum[:])},
			outlines: outs,
		})
	}
	return faces
}

// firstName is the first of the names ids that f has, or "".
func firstName(f *sfnt.Font, buf *sfnt.Buffer, ids ...sfnt.NameID) string {
	for _, id := range ids {
		if s, err := f.Name(buf, id); err == nil && s != "" {
			return s
		}
	}
	return ""
}

// outlineEm is the ppem outlines are loaded at; points are divided by it so
// that 1 em = 1.
const outlineEm = 1024

// outlines loads the outline of each rune in chars from f; ok is false when
// one is missing or empty.
func outlines(f *sfnt.Font, buf *sfnt.Buffer, chars []rune) (outs []outline, ok bool) {
	for _, r := range chars {
		gi, err := f.GlyphIndex(buf, r)
		if err != nil || gi == 0 {
			return nil, false
		}
		segs, err := f.LoadGlyph(buf, gi, fixed.I(outlineEm), nil)
		if err != nil || len(segs) == 0 {
			return nil, false
		}
		o := outline{minX: 1e9, minY: 1e9, maxX: -1e9, maxY: -1e9}
		for _, s := range segs {
			var q seg
			q.op = s.Op
			for k := range nargs(s.Op) {
				x := float64(s.Args[k].X) / 64 / outlineEm
				y := float64(s.Args[k].Y) / 64 / outlineEm
				q.p[k] = [2]float64{x, y}
				o.minX, o.maxX = min(o.minX, x), max(o.maxX, x)
				o.minY, o.maxY = min(o.minY, y), max(o.maxY, y)
			}
			o.segs = append(o.segs, q)
		}
		if !(o.maxX-o.minX > 0.01 && o.maxY-o.minY > 0.01) {
			return nil, false // a blank or degenerate glyph
		}
		outs = append(outs, o)
	}
	return outs, true
}

// nargs is the number of points a segment op takes.
func nargs(op sfnt.SegmentOp) int {
	switch op {
	case sfnt.SegmentOpQuadTo:
		return 2
	case sfnt.SegmentOpCubeTo:
		return 3
	}
	return 1
}
