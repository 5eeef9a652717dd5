package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUsageMessages: mistakes get one line that says what to do, exit
// status 2, and no help text.
func TestUsageMessages(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // the whole of stderr
	}{
		{"misspelt flag", []string{"train", "--epoch", "2", "--out", dir},
			"gtl: unknown flag --epoch for gtl train; did you mean --epochs? (gtl train --help lists the flags)"},
		{"misspelt flag after an argument", []string{"predict", "a.jpg", "--top-kk", "3"},
			"gtl: unknown flag --top-kk for gtl predict; did you mean --top-k? (gtl predict --help lists the flags)"},
		{"misspelt global flag", []string{"--thread", "2", "version"},
			"gtl: unknown flag --thread for gtl; did you mean --threads? (gtl --help lists the flags)"},
		{"misspelt global flag after the command", []string{"version", "--thread", "2"},
			"gtl: unknown flag --thread for gtl version; did you mean --threads? (gtl version --help lists the flags)"},
		{"nothing close", []string{"eval", "--temperature", "2"},
			"gtl: unknown flag --temperature for gtl eval (gtl eval --help lists the flags)"},
		{"bad number", []string{"train", "--out", dir, "--epochs", "abc"},
			`gtl: --epochs "abc": want a whole number (gtl train --help lists the flags)`},
		{"bad float", []string{"train", "--out", dir, "--lr-decay", "fast"},
			`gtl: --lr-decay "fast": want a number (gtl train --help lists the flags)`},
		{"no value", []string{"train", "--out"}, "gtl: --out needs a value (gtl train --help lists the flags)"},
		{"required", []string{"train"}, "gtl: --out is required (gtl train --help lists the flags)"},
		{"data first", []string{"recommend"},
			"gtl: --data is required: an image folder (DIR/<class>/<image>), or fashion-mnist for the built-in data set"},
		{"no source", []string{"recommend", "--data", "fashion-mnist"},
			"gtl: --weights FILE or --model ARCH --pretrained: the source model is required (every strategy but scratch starts from it)"},
		{"two sources", []string{"compare", "--data", "fashion-mnist", "--model", "resnet18", "--pretrained", "--weights", file, "--out", dir},
			"gtl: --pretrained and --weights: give one source"},
		{"pretrained without model", []string{"recommend", "--data", "fashion-mnist", "--pretrained"},
			"gtl: --pretrained needs --model: the architecture whose torchvision weights to use"},
		{"global flag after the command", []string{"version", "--threads", "-2"}, "gtl: --threads -2: want at least 1"},
		{"unknown model", []string{"models", "resnet-18"},
			`gtl: unknown architecture "resnet-18"; closest: resnet18, resnet34, resnet50 (gtl models lists all 75)`},
		{"data required", []string{"recommend", "--weights", file},
			"gtl: --data is required: an image folder (DIR/<class>/<image>), or fashion-mnist for the built-in data set"},
		{"data missing", []string{"recommend", "--weights", file, "--data", filepath.Join(dir, "clothes")},
			"gtl: --data " + filepath.Join(dir, "clothes") + ": does not exist"},
		{"data misspelt", []string{"recommend", "--weights", file, "--data", "fashion_mnist"},
			"gtl: --data fashion_mnist: does not exist (the built-in data set is called fashion-mnist)"},
		{"embed data missing", []string{"embed", "--model", "resnet18", "--data", filepath.Join(dir, "nosuch"), "--out", filepath.Join(dir, "f.npy")},
			"gtl: --data " + filepath.Join(dir, "nosuch") + ": does not exist"},
		{"data is a file", []string{"recommend", "--weights", file, "--data", file},
			"gtl: --data " + file + ": is a file, not an image folder (want DIR/<class>/<image>, or DIR/train/<class>/… and DIR/val/<class>/…)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := gtl(tt.args...)
			if code != 2 || errOut != tt.want+"\n" || out != "" {
				t.Errorf("gtl %s: exit %d\nstderr %q\nwant   %q\nstdout %q", strings.Join(tt.args, " "), code, errOut, tt.want+"\n", out)
			}
		})
	}
}

// TestEveryCommandUnknownFlag: every command answers an unknown flag with
// one line that names it and points to the command's --help.
func TestEveryCommandUnknownFlag(t *testing.T) {
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		t.Run(c.Name, func(t *testing.T) {
			out, errOut, code := gtl(c.Name, "--no-such-flag", "1")
			want := regexp.MustCompile(`^gtl: unknown flag --no-such-flag for gtl ` + c.Name + `( \(|; did you mean --[a-z-]+\? \()gtl ` + c.Name + ` --help lists the flags\)\n$`)
			if code != 2 || !want.MatchString(errOut) || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %d bytes; want one line matching %s", code, errOut, len(out), want)
			}
		})
	}
}

// TestEveryFlagSuggested: a flag typed with its last letter missing is
// suggested back, for every flag of every command that is long enough to
// be recognised.
func TestEveryFlagSuggested(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, c := range app.Commands {
		flags := append(append(c.Flags[:0:0], c.Flags...), app.Flags...)
		for _, f := range c.Flags {
			name := f.Names()[0]
			if len(name) < 4 {
				continue
			}
			typo := name[:len(name)-1]
			if hasFlag(flags, typo) { // a flag of its own ("seed" in "seeds")
				continue
			}
			err := errorString("flag provided but not defined: -" + typo)
			got := describeUsageError("gtl "+c.Name, flags, err)
			if !strings.Contains(got, "did you mean --"+name+"?") {
				t.Errorf("gtl %s --%s: %q, want --%s suggested", c.Name, typo, got, name)
			}
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestPlural(t *testing.T) {
	tests := []struct {
		n          int
		noun, want string
	}{
		{0, "epoch", "0 epochs"}, {1, "epoch", "1 epoch"}, {2, "epoch", "2 epochs"}, {60000, "epoch", "60000 epochs"},
		{1, "strategy", "1 strategy"}, {3, "strategy", "3 strategies"}, {2, "day", "2 days"},
		{1, "libtorch thread", "1 libtorch thread"}, {2, "labelled image", "2 labelled images"},
	}
	for _, tt := range tests {
		if got := plural(tt.n, tt.noun); got != tt.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}
