package datasets

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/gtl-dev/gtl/internal/fuzzcount"
)

func TestEscapeName(t *testing.T) {
	for _, tc := range []struct{ name, raw, escaped string }{
		{"ascii", "cat", "cat"},
		{"utf-8 letters", "café 猫", "café 猫"},
		{"latin-1 byte", "caf\xe9", `caf\xe9`},
		{"lone continuation byte", "\x80a", `\x80a`},
		{"truncated utf-8", "a\xe7\x8c", `a\xe7\x8c`},
		{"surrogate in utf-8 form", "\xed\xa0\x80", `\xed\xa0\x80`},
		{"backslash", `a\b`, `a\\b`},
		{"backslash and invalid", "\\\xff", `\\\xff`},
		{"looks escaped", `caf\xe9`, `caf\\xe9`},
		{"replacement character itself", "\uFFFD", "\uFFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EscapeName(tc.raw)
			if got != tc.escaped || !utf8.ValidString(got) {
				t.Errorf("EscapeName(%q) = %q, want %q", tc.raw, got, tc.escaped)
			}
			if back := UnescapeName(got); back != tc.raw {
				t.Errorf("UnescapeName(%q) = %q, want %q", got, back, tc.raw)
			}
		})
	}
	// Backslashes that are no escape are kept (names written before the
	// escaping, or by hand).
	for s, want := range map[string]string{`a\b`: `a\b`, `\x4`: `\x4`, `\xZZ`: `\xZZ`, `end\`: `end\`, `\x41`: "A", `\X41`: `\X41`} {
		if got := UnescapeName(s); got != want {
			t.Errorf("UnescapeName(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestClassNamesJSON: names go to JSON and back byte for byte, as valid
// UTF-8 (encoding/json alone writes U+FFFD for the Latin-1 byte).
func TestClassNamesJSON(t *testing.T) {
	names := ClassNames{"caf\xe9", "cat", `back\slash`, "日本"}
	b, err := json.Marshal(struct {
		Classes ClassNames `json:"classes"`
	}{names})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"classes":["caf\\xe9","cat","back\\\\slash","日本"]}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back struct {
		Classes ClassNames `json:"classes"`
	}
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back.Classes, names) {
		t.Errorf("read back %q (%v), want %q", back.Classes, err, names)
	}
	plain, _ := json.Marshal([]string(names))
	if string(plain) == string(b[len(`{"classes":`):len(b)-1]) {
		t.Errorf("encoding/json alone keeps the name: the type is not needed?")
	}
	if got := fmt.Sprint(names); got != `[caf\xe9 cat back\\slash 日本]` {
		t.Errorf("printed %s", got)
	}
	var null struct{ C ClassNames }
	if err := json.Unmarshal([]byte(`{"C":null}`), &null); err != nil || null.C != nil {
		t.Errorf("null: %v %v", null.C, err)
	}
}

// FuzzEscapeName: every byte string comes back, through valid UTF-8.
func FuzzEscapeName(f *testing.F) {
	for _, s := range []string{"", "cat", "caf\xe9", `\`, `\\x41`, "\xff\xfe", "日本\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fuzzcount.Hit("FuzzEscapeName")
		e := EscapeName(s)
		if !utf8.ValidString(e) || UnescapeName(e) != s {
			t.Fatalf("%q -> %q -> %q", s, e, UnescapeName(e))
		}
	})
}

func TestPathHint(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cwd := t.TempDir()
	t.Chdir(cwd)
	if err := os.Mkdir(filepath.Join(cwd, "~real"), 0o755); err != nil {
		t.Fatal(err)
	}
	why := "no shell expanded the ~ (it was quoted, or passed by a script or job file): write the full path"
	root, err := user.Lookup("root")
	if err != nil {
		t.Skip("no root user to look up")
	}
	for _, tc := range []struct{ path, want string }{
		{"~/photos", why + ", " + filepath.Join(home, "photos")},
		{"~", why + ", " + home},
		{"~/", why + ", " + home},
		{"~root/data/x", why + ", " + filepath.Join(root.HomeDir, "data/x")},
		{"~no-such-user-gtl/x", why},
		{"~real", ""},  // exists as written
		{"photos", ""}, // no ~
		{"/x/~/y", ""}, // ~ not first
	} {
		if got := PathHint(tc.path); got != tc.want {
			t.Errorf("PathHint(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	// The listing of a folder says it too.
	_, err = ScanImageFolder("~/photos")
	if want := "datasets: image folder: open ~/photos: no such file or directory; " + why + ", " + filepath.Join(home, "photos"); err == nil || err.Error() != want {
		t.Errorf("ScanImageFolder: %v\nwant %s", err, want)
	}
}

// TestEscapeNamePython: Python reads the escaped form back to the same
// bytes with codecs.escape_decode, as the README says.
func TestEscapeNamePython(t *testing.T) {
	names := []string{"cat", "café", "caf\xe9", `a\b`, "\\\xff", `caf\xe9`, "日本\x80", "\t tab"}
	b, _ := json.Marshal(EscapeNames(names))
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import codecs, json, sys; print(json.dumps([codecs.escape_decode(n.encode())[0].hex() for n in json.loads(sys.argv[1])]))", string(b)).CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for i, h := range got {
		if want := hex.EncodeToString([]byte(names[i])); h != want {
			t.Errorf("%q: Python decodes %s, want %s", names[i], h, want)
		}
	}
}
