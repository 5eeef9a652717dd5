package datasets

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A class name is the name of its folder, as the file system holds it: on
// Linux any bytes but '/' and NUL, not necessarily valid UTF-8 (a folder
// made under a Latin-1 locale, or unpacked from an old zip archive, can be
// named "caf\xe9"). JSON, CSV readers and terminals expect UTF-8, and Go's
// encoding/json replaces invalid bytes with U+FFFD, which loses the name:
// a checkpoint's classes would then no longer equal the folder's.
//
// Where gtl writes a class name as text (checkpoints' .json, config.json,
// results.json, reports) it writes EscapeName's form, which is valid UTF-8
// and which UnescapeName turns back into the same bytes:
//
//   - a backslash is written as two: `\\`;
//   - each byte that is not part of valid UTF-8 is written as `\xNN`
//     (two lowercase hexadecimal digits), as Python's and Go's escapes do;
//   - everything else, non-ASCII letters included, as it is.
//
// A name that is valid UTF-8 without a backslash — nearly every name — is
// therefore written unchanged. UnescapeName reads `\\` and `\xNN` and
// keeps any other backslash as it is.

// EscapeName returns name in gtl's escaped form (see above): valid UTF-8,
// and UnescapeName(EscapeName(name)) == name for every name.
func EscapeName(name string) string {
	if utf8.ValidString(name) && !strings.Contains(name, `\`) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, n := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, name[i])
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(name[i : i+n])
		}
		i += n
	}
	return b.String()
}

// UnescapeName returns the name that EscapeName wrote as s.
func UnescapeName(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
			if s[i+1] == 'x' && i+3 < len(s) && isHex(s[i+2]) && isHex(s[i+3]) {
				b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// EscapeNames returns the names in escaped form (see EscapeName).
func EscapeNames(names []string) []string {
	if names == nil {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = EscapeName(n)
	}
	return out
}

// ClassNames are class names that go to JSON and come back byte for byte:
// they are written in escaped form (EscapeName) and read back with
// UnescapeName. Printed (%v, %s), they show the escaped form.
type ClassNames []string

// MarshalJSON writes the names escaped.
func (c ClassNames) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	return json.Marshal(EscapeNames(c))
}

// UnmarshalJSON reads names written by MarshalJSON (or plain strings).
func (c *ClassNames) UnmarshalJSON(b []byte) error {
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil {
		*c = nil
		return nil
	}
	for i := range s {
		s[i] = UnescapeName(s[i])
	}
	*c = s
	return nil
}

// String returns the names escaped, as fmt prints a []string.
func (c ClassNames) String() string {
	return fmt.Sprint(EscapeNames(c))
}
