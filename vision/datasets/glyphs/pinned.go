package glyphs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DebianPackage is a Debian package at one version.
type DebianPackage struct {
	Name    string
	Version string
}

// PinnedFont is one face of the pinned font list: a font file (face 0 of
// it) that a Debian package installs, and the SHA-256 of that file.
type PinnedFont struct {
	// Package is the Debian package that installs Path (see PinnedPackages).
	Package string
	Path    string
	// Family and Style are the face's names, e.g. "DejaVu Sans", "Bold".
	Family string
	Style  string
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string
}

// PinnedFontsError is Generate's error when pinned fonts are missing or
// differ from their pinned hashes: the set they would draw is not the
// pinned one, so none is drawn.
type PinnedFontsError struct {
	// Missing are the pinned fonts whose files do not exist.
	Missing []PinnedFont
	// Changed are the pinned fonts whose files have another SHA-256, with
	// the SHA-256 found.
	Changed []ChangedFont
}

// ChangedFont is a pinned font whose file differs from the pinned one.
type ChangedFont struct {
	PinnedFont
	// Found is the hex SHA-256 of the file found at Path.
	Found string
}

// Error names the missing files by package, with the apt-get command that
// installs them, and each changed file with both hashes, on one line.
func (e *PinnedFontsError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		var pkgs, each []string
		byPkg := map[string][]string{}
		for _, f := range e.Missing {
			if _, ok := byPkg[f.Package]; !ok {
				pkgs = append(pkgs, f.Package)
			}
			byPkg[f.Package] = append(byPkg[f.Package], f.Path)
		}
		for _, p := range pkgs {
			each = append(each, fmt.Sprintf("%s (from %s)", joinPaths(byPkg[p]), packageVersion(p)))
		}
		parts = append(parts, fmt.Sprintf("%d of the %d pinned fonts missing: %s; install with: apt-get install --no-install-recommends %s",
			len(e.Missing), len(PinnedFonts), strings.Join(each, ", "), strings.Join(pkgs, " ")))
	}
	for _, f := range e.Changed {
		parts = append(parts, fmt.Sprintf("pinned font %s (from %s) has SHA-256 %s, want %s (another version of the package?)",
			f.Path, packageVersion(f.Package), f.Found, f.SHA256))
	}
	return "glyphs: " + strings.Join(parts, "; ")
}

// packageVersion is "name version" for a pinned package, else its name.
func packageVersion(name string) string {
	for _, p := range PinnedPackages {
		if p.Name == name {
			return p.Name + " " + p.Version
		}
	}
	return name
}

// joinPaths writes paths that share one folder as dir/{a, b}.
func joinPaths(paths []string) string {
	dir := filepath.Dir(paths[0])
	var names []string
	for _, p := range paths {
		if filepath.Dir(p) != dir {
			return strings.Join(paths, ", ")
		}
		names = append(names, filepath.Base(p))
	}
	if len(names) == 1 {
		return paths[0]
	}
	return dir + "/{" + strings.Join(names, ", ") + "}"
}

// CheckPinnedFonts reports whether every pinned font is installed, with
// its pinned SHA-256 and every digit and capital letter: nil, or the error
// Generate would return (a *PinnedFontsError for missing or changed files).
func CheckPinnedFonts() error {
	_, err := pinnedFaces(PinnedFonts, []rune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	return err
}

// pinnedFaces loads the faces of pins, in their order, with the outline of
// every rune in chars. A missing file or one with another hash is a
// *PinnedFontsError naming all of them; a pinned face without every rune
// is an error too.
func pinnedFaces(pins []PinnedFont, chars []rune) ([]face, error) {
	var (
		faces []face
		bad   PinnedFontsError
	)
	for _, pin := range pins {
		data, err := os.ReadFile(pin.Path)
		if errors.Is(err, fs.ErrNotExist) {
			bad.Missing = append(bad.Missing, pin)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("glyphs: pinned font %s: %w", pin.Path, err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != pin.SHA256 {
			bad.Changed = append(bad.Changed, ChangedFont{PinnedFont: pin, Found: got})
			continue
		}
		got := loadFaces(pin.Path, data, chars)
		if len(got) == 0 || got[0].info.Index != 0 {
			return nil, fmt.Errorf("glyphs: pinned font %s: no drawable outline for every one of %s", pin.Path, string(chars))
		}
		got[0].info.Package = pin.Package
		faces = append(faces, got[0])
	}
	if len(bad.Missing) > 0 || len(bad.Changed) > 0 {
		return nil, &bad
	}
	return faces, nil
}

// PinnedPackages are the Debian 12 packages that install the pinned fonts,
// each with the version the hashes in PinnedFonts were taken from.
// scripts/setup.sh installs them.
var PinnedPackages = []DebianPackage{
	{Name: "fonts-dejavu-core", Version: "2.37-6"},
	{Name: "fonts-dejavu-extra", Version: "2.37-6"},
	{Name: "fonts-freefont-ttf", Version: "20120503-10"},
	{Name: "fonts-liberation2", Version: "2.1.5-1"},
	{Name: "fonts-urw-base35", Version: "20200910-7"},
}

// PinnedFonts is the default font list of Generate: every face of
// PinnedPackages with all of 0–9 and A–Z (symbol and dingbat fonts left out),
// 79 faces in path order. The order is part of the data: each image picks
// its face by index.
var PinnedFonts = []PinnedFont{
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/C059-BdIta.otf", Family: "C059", Style: "Bold Italic",
		SHA256: "60d0ab6a22e4018b1232806d98f4015e04f9a0a569db7a169c40d55e2a9f6252"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/C059-Bold.otf", Family: "C059", Style: "Bold",
		SHA256: "75dea10068264324522e7b96612083582eee0158eb728fa9c219279890f33e26"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/C059-Italic.otf", Family: "C059", Style: "Italic",
		SHA256: "77852deabd3a84f7d0213932239de522410309374c2255ccbd510f01dc7c6e80"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/C059-Roman.otf", Family: "C059", Style: "Roman",
		SHA256: "e00cc7b88f0cf25ae43f0e48de39d0043fe042b55719a3ac32669ab3369542ec"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Bold.otf", Family: "Nimbus Mono PS", Style: "Bold",
		SHA256: "f036d05d2168c7f71cb11d31e81d11133f3d09711e24ebde19d08a24842384d5"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-BoldItalic.otf", Family: "Nimbus Mono PS", Style: "Bold Italic",
		SHA256: "a67ed9e364c933c79fc3ce88e17a0265334697c184b065407e754d43cbbf6d0a"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Italic.otf", Family: "Nimbus Mono PS", Style: "Italic",
		SHA256: "7f1f85498027e07befadd3c7592518909b9e8c7f96ee5615e0b21be0c399c4b4"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf", Family: "Nimbus Mono PS", Style: "Regular",
		SHA256: "4f225ca8e13acb16f733ce741693105e527d5f7a5443901b9ecc190fca4e149b"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Bold.otf", Family: "Nimbus Roman", Style: "Bold",
		SHA256: "e0ad81923bc6d85d5426f796217c87963ca1ae3c65e22c87a25b6c6353de299e"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusRoman-BoldItalic.otf", Family: "Nimbus Roman", Style: "Bold Italic",
		SHA256: "c84bcb17ab4ee54f16dadad6a3b0b2df37a24f9fc812897c4a59eeca785a5dec"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Italic.otf", Family: "Nimbus Roman", Style: "Italic",
		SHA256: "b7c424e6cb79baddfcdcd9a9d87f9fc4fdd06f0e5160066e2b2e47bcd647c7b9"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf", Family: "Nimbus Roman", Style: "Regular",
		SHA256: "fd41669443616a7ae890c42e53a58f47fa24a940fd1e367acaff665cf5b6e9d8"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf", Family: "Nimbus Sans", Style: "Bold",
		SHA256: "7f33328e6b4d4cd21b45fa625791928c9407dc702db6780e56b09ca9a3ecaa67"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSans-BoldItalic.otf", Family: "Nimbus Sans", Style: "Bold Italic",
		SHA256: "3f47fb34fcb7de09f8cbc9f305191340ddebf7a068419f4bb5f49287dea59b87"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSans-Italic.otf", Family: "Nimbus Sans", Style: "Italic",
		SHA256: "7b0bef5686aa58c0fd0f0d01beeae56664208490e30ca6a25431281c9a0c6402"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf", Family: "Nimbus Sans", Style: "Regular",
		SHA256: "7c25be4d78155523080ab85b10277150657ff7dabbcad7037bdd536c9b6d0d08"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf", Family: "Nimbus Sans Narrow", Style: "Bold",
		SHA256: "6d7cec07f5a9035e208532dab35a51312aef4a7f26eb524dd614c9fcd97c3264"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-BoldOblique.otf", Family: "Nimbus Sans Narrow", Style: "Bold Oblique",
		SHA256: "3cefbe4a602a08a0400798fc4aba2d48f7b7e05fa6ed54c2009d68adc6eccef9"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Oblique.otf", Family: "Nimbus Sans Narrow", Style: "Oblique",
		SHA256: "6fd8dd67ab951f36f66563ef8443bafdf10836e73ebe856f85f4a9c282293585"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf", Family: "Nimbus Sans Narrow", Style: "Regular",
		SHA256: "0111cf7c05377c4f1685d37bfa8b3edd2033278122f69e0a9803a8514e352b99"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/P052-Bold.otf", Family: "P052", Style: "Bold",
		SHA256: "ba6503baaf0f9e4e40a69cc4c0e57049fbde313fe183aba8fe823208337a94af"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/P052-BoldItalic.otf", Family: "P052", Style: "Bold Italic",
		SHA256: "63e15828175e55559ae09c9bdcd09fc0354537657d43109edb6e2a5509f8299f"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/P052-Italic.otf", Family: "P052", Style: "Italic",
		SHA256: "1feac6055211cf5c6c812c026e398195070f174064cc4d390f0db01647443b0e"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/P052-Roman.otf", Family: "P052", Style: "Roman",
		SHA256: "f054a7389d8d0e9f4c5f7b4c21feb7e2b14bec8004a1e92778a78d149524eea9"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWBookman-Demi.otf", Family: "URW Bookman", Style: "Demi",
		SHA256: "ab8b2fe57cbea9783c6179188dc013c76cfc5717c22cf59bbf3016ef2d7d93ee"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWBookman-DemiItalic.otf", Family: "URW Bookman", Style: "Demi Italic",
		SHA256: "4d9dbaae8178ffa2f5d557245d09dc968eeac9eed7e453cc2db4cc6a9aacb44d"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWBookman-Light.otf", Family: "URW Bookman", Style: "Light",
		SHA256: "7b1bc8e6a16cef53785ce03d4848f8971f3ba38cd9e266e4786a50e08bd9235b"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWBookman-LightItalic.otf", Family: "URW Bookman", Style: "Light Italic",
		SHA256: "ed722e6c2996b08e8516d27a7c017972cfabf5d1736b496b6526da78fd17691a"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWGothic-Book.otf", Family: "URW Gothic", Style: "Book",
		SHA256: "04318316cee29950805110c9c8949eea189ef5575132881f4d4d7e03e5299903"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWGothic-BookOblique.otf", Family: "URW Gothic", Style: "Book Oblique",
		SHA256: "ec4e947734950fd344918e560bc8ad0c5d8b17d0ab4853988824f13b9f77e53f"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWGothic-Demi.otf", Family: "URW Gothic", Style: "Demi",
		SHA256: "5b009410cf5231dcb1e45b155c1afedcfc63d82042fd8c414d0dd7705c9fbbae"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/URWGothic-DemiOblique.otf", Family: "URW Gothic", Style: "Demi Oblique",
		SHA256: "d57abaa6d40718cfbf735ad50080d0b095e7194e451992e02786a7c0113db35c"},
	{Package: "fonts-urw-base35", Path: "/usr/share/fonts/opentype/urw-base35/Z003-MediumItalic.otf", Family: "Z003", Style: "Medium Italic",
		SHA256: "a04947e59fc9339ea3c4b34c31fd46764f22af7512afc2c074ce190e79ed7a09"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuMathTeXGyre.ttf", Family: "DejaVu Math TeX Gyre", Style: "Regular",
		SHA256: "f9111561cce123a3b7bdbc230c671b4152265dd1ca6179bc8fac242a6dad0df1"},
	{Package: "fonts-dejavu-core", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", Family: "DejaVu Sans", Style: "Bold",
		SHA256: "0d977336a6d5fba34eab8e3199eb218327161b5143749f802982c2bc34df0c96"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSans-BoldOblique.ttf", Family: "DejaVu Sans", Style: "Bold Oblique",
		SHA256: "b7479266f14d71a019f79cb0ccc23acb6b130483317f7fff16182a0784031c9b"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSans-ExtraLight.ttf", Family: "DejaVu Sans", Style: "ExtraLight",
		SHA256: "af1ca215bce59dade18223e4591340f2a07d2e193a87356cd216fcc09da70f02"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf", Family: "DejaVu Sans", Style: "Oblique",
		SHA256: "eef1a593cc0a4654f147fd1aa9a11e7d327eb8be6f3a35099182db6aeb5d28fe"},
	{Package: "fonts-dejavu-core", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", Family: "DejaVu Sans", Style: "Book",
		SHA256: "abdc775b21b1bc470d50c97e790d276f2054b7504e56e5bd3e64f48d68582322"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf", Family: "DejaVu Sans", Style: "Condensed Bold",
		SHA256: "6d2f2481e2aae944e8411cc5be515c69503ff7f5db52f2c67bcbe5d4de6bec13"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-BoldOblique.ttf", Family: "DejaVu Sans", Style: "Condensed Bold Oblique",
		SHA256: "a0c1e726e901341f5b0a0ecae0696fef44de9a004768ba71d69909938caa1421"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf", Family: "DejaVu Sans", Style: "Condensed Oblique",
		SHA256: "e35007c431fa7d6c8c8b1aeac60bd68ac14869bb7ed70959c6f027e4cdfa8d35"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf", Family: "DejaVu Sans", Style: "Condensed",
		SHA256: "2d8aa290adcf1ebcbb35f63e57cf32941b012eaab4b65096b904112cf3bac972"},
	{Package: "fonts-dejavu-core", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", Family: "DejaVu Sans Mono", Style: "Bold",
		SHA256: "2964f6dac8e6e9d71613928340f17bf868e9ea51692cca333c79e74962f02233"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-BoldOblique.ttf", Family: "DejaVu Sans Mono", Style: "Bold Oblique",
		SHA256: "97a099e700f0e0a4f0078c04a970686595c9a6049b5a1defbd22362e20ae1fcf"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Oblique.ttf", Family: "DejaVu Sans Mono", Style: "Oblique",
		SHA256: "db15e83c273e57cd52731c10ebb5b6bbcb0b3e9e5860dec33a66b60a5294f2df"},
	{Package: "fonts-dejavu-core", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", Family: "DejaVu Sans Mono", Style: "Book",
		SHA256: "0f5db4f1749979d961019838b160bec74abdf7f9eca69553fe1aa856bbff49a4"},
	{Package: "fonts-dejavu-core", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf", Family: "DejaVu Serif", Style: "Bold",
		SHA256: "e2fd85eba2de65ac270d1cdb1685e252eb827f600850cf62af2d20c41b22e945"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerif-BoldItalic.ttf", Family: "DejaVu Serif", Style: "Bold Italic",
		SHA256: "c84b722b8da77cb96873a801c9ad1bc3b75d0c847c718696898878f33186c657"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf", Family: "DejaVu Serif", Style: "Italic",
		SHA256: "889a2b9daff9f091f7cf1ff6c88e5c1a5b55b3afb221571393ccb71ec9301ec9"},
	{Package: "fonts-dejavu-core", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", Family: "DejaVu Serif", Style: "Book",
		SHA256: "13e61509f5c81d7c3132810f4f903e3523df89c802bf6e0674621e8f659cdfe1"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-Bold.ttf", Family: "DejaVu Serif", Style: "Condensed Bold",
		SHA256: "9432825f095d7bdc4fb445d60b7a91f326e212d041f88cf0c651801f6b7f5668"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-BoldItalic.ttf", Family: "DejaVu Serif", Style: "Condensed Bold Italic",
		SHA256: "66b389de31f2a2f64110b9a5da006e3a3e903ead43a3fdbaa91c130ded9d1a8c"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed-Italic.ttf", Family: "DejaVu Serif", Style: "Condensed Italic",
		SHA256: "c1670c8a103e28767d44c94203a15975bee1cf04c40caffd4a5349b90a779cd0"},
	{Package: "fonts-dejavu-extra", Path: "/usr/share/fonts/truetype/dejavu/DejaVuSerifCondensed.ttf", Family: "DejaVu Serif", Style: "Condensed",
		SHA256: "1b3f7840572a81733df8f7a82176d61c19b43c2b110e380bac7ee07e9ac6a66b"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeMono.ttf", Family: "FreeMono", Style: "Regular",
		SHA256: "1175cc31865a2a1bf011a7711ddab98302343bd679181b360a0e845774c61ecf"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeMonoBold.ttf", Family: "FreeMono", Style: "Bold",
		SHA256: "30b4b98748839431a366123f859871549b57e461a8b8ec2d3d65b55b2fb9f22d"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeMonoBoldOblique.ttf", Family: "FreeMono", Style: "Bold Oblique",
		SHA256: "897560b2d1678baf96b5d4d3c5203f1bcf41df46fa4fc6dfbcf245ba84c1b130"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeMonoOblique.ttf", Family: "FreeMono", Style: "Oblique",
		SHA256: "e8d854cbb19b7f3b2d7cfc93c8ab31595de1b53f78bb81da595a700ae686e7e8"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSans.ttf", Family: "FreeSans", Style: "Regular",
		SHA256: "0b602f2825b30f9faa772c2ca25b1ce05b6255c9bf02dd8ca088ae51f9f737bb"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf", Family: "FreeSans", Style: "Bold",
		SHA256: "e8b93173d6d8214fb74a068663d3721fdca612bbf3f98973dddb7067b131a0cf"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSansBoldOblique.ttf", Family: "FreeSans", Style: "Bold Oblique",
		SHA256: "69cdc7587112f2b2cf6f460da6ce2c19a983a80905a2863dafe7e5a92ad6e4af"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSansOblique.ttf", Family: "FreeSans", Style: "Oblique",
		SHA256: "31050ee870617c8c098167dd3df78cde65392abc04ed96fd9304d0b1421a68a9"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSerif.ttf", Family: "FreeSerif", Style: "Regular",
		SHA256: "12ee050384c99c97a6873708a3aebde3d795de8d8ed069b1a0e3274ab3e5be03"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSerifBold.ttf", Family: "FreeSerif", Style: "Bold",
		SHA256: "12bd953ceb1fa8c7d7386c3d026bd3b004bf07640d8603cc803db7ceb7d9fb99"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSerifBoldItalic.ttf", Family: "FreeSerif", Style: "Bold Italic",
		SHA256: "86b1ef902639cbe98e442cdd3aa913e0478a072d79192a9b6e989fd35310de0f"},
	{Package: "fonts-freefont-ttf", Path: "/usr/share/fonts/truetype/freefont/FreeSerifItalic.ttf", Family: "FreeSerif", Style: "Italic",
		SHA256: "3049ffb26ed8140c13e21d612d78e18ff3dc20123b85d1f7353a1564163a5e9b"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationMono-Bold.ttf", Family: "Liberation Mono", Style: "Bold",
		SHA256: "29534b0aad22fa386843365da6f04102df8d6a076e06a2a5ce270f83dd1bf351"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationMono-BoldItalic.ttf", Family: "Liberation Mono", Style: "Bold Italic",
		SHA256: "f9f61b3d7f06f2f3f79faa961d77395cf35ade72cdec8521d7e60397194774da"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationMono-Italic.ttf", Family: "Liberation Mono", Style: "Italic",
		SHA256: "b35c3fc2f2d607782bcac01367f419a4a36d0fc48b2115ce6d17498343c3086e"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf", Family: "Liberation Mono", Style: "Regular",
		SHA256: "6b3809450cf6253b36d157198dc15004a5fbade9abad5543c377feb7bb29139c"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf", Family: "Liberation Sans", Style: "Bold",
		SHA256: "ba0e0dc3f7aca5b0afbc31e800531ee43be3aa79ae35b2ef1f6470a9547765c4"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSans-BoldItalic.ttf", Family: "Liberation Sans", Style: "Bold Italic",
		SHA256: "15c1068175252e4adee6d3721bf74064ffe437f679d9dbaeacd03fa7711a041b"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSans-Italic.ttf", Family: "Liberation Sans", Style: "Italic",
		SHA256: "01f559e5c501d3d5777647c6a92b3ff37a4523bcf4f3b6e97ae052af567618b1"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf", Family: "Liberation Sans", Style: "Regular",
		SHA256: "8d91388f1d3604b3b8ae0e3ee2d140e50cd6122f9214514f4aca772540a4076d"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf", Family: "Liberation Serif", Style: "Bold",
		SHA256: "446a4421f297698427170fd7db20e59169a4188baaaf940e9bea58af6341a723"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSerif-BoldItalic.ttf", Family: "Liberation Serif", Style: "Bold Italic",
		SHA256: "36dd6965be8915f6d7efb259757f1f7546a7c6f72c53a20bbe4ae7092f2cd558"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSerif-Italic.ttf", Family: "Liberation Serif", Style: "Italic",
		SHA256: "c1830c433ab41379f1139fac388989d37c9f08c81e1bd643efdcc7946db30753"},
	{Package: "fonts-liberation2", Path: "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf", Family: "Liberation Serif", Style: "Regular",
		SHA256: "29d12439831b7f59194efec85872f24f54eff05738933f9a860220d2abff88ba"},
}
