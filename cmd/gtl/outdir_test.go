package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbedKeepsEarlierOutput: gtl embed into the features of an earlier
// one is refused in one line that names what is there and the choices,
// and leaves both files as they were; --overwrite replaces them.
func TestEmbedKeepsEarlierOutput(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	for i := 0; i < 2; i++ {
		writeSeededPNG(t, filepath.Join(data, "cats", string(rune('a'+i))+".png"), uint64(i))
		writeSeededPNG(t, filepath.Join(data, "dogs", string(rune('a'+i))+".png"), uint64(10+i))
	}
	out := filepath.Join(root, "emb", "f.npy")
	labels := filepath.Join(root, "emb", "f.labels.npy")
	args := []string{"embed", "-q", "--model", "squeezenet1_1", "--num-classes", "2", "--data", data, "--out", out}
	if _, errOut, code := gtl(args...); code != 0 {
		t.Fatalf("first embed: %d %s", code, errOut)
	}
	feats, _ := os.ReadFile(out)
	labs, _ := os.ReadFile(labels)
	for _, tc := range []struct {
		name   string
		remove string // a file of the pair taken away first
		there  string
	}{
		{"both", "", out + " and " + labels + " already exist"},
		{"labels only", out, labels + " already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.remove != "" {
				_ = os.Rename(tc.remove, tc.remove+".bak")
				defer os.Rename(tc.remove+".bak", tc.remove)
			}
			_, errOut, code := gtl(append(args[:len(args):len(args)], "--data", data+"/does-not-matter")...)
			want := "gtl: --out " + out + ": " + tc.there + " (an earlier gtl embed's output?): --overwrite replaces " + out + " and " + labels + ", or choose another --out\n"
			if code != 2 || errOut != want {
				t.Fatalf("second embed: exit %d %q\nwant 2 %q", code, errOut, want)
			}
		})
	}
	if f, _ := os.ReadFile(out); !bytes.Equal(f, feats) {
		t.Error("features changed by a refused embed")
	}
	if l, _ := os.ReadFile(labels); !bytes.Equal(l, labs) {
		t.Error("labels changed by a refused embed")
	}
	// --overwrite: replaced (here with the first two images only).
	if stdout, errOut, code := gtl(append(args, "--overwrite", "--limit", "2")...); code != 0 || !strings.Contains(stdout, "features [2 ") {
		t.Fatalf("--overwrite: %d %s %s", code, stdout, errOut)
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 2 {
		t.Errorf("folder holds %d files, want the features and labels only (no lock file left)", len(ents))
	}
}

// TestTildePaths: a path flag or argument that starts with ~ and does not
// exist is refused before any work, with the hint that no shell expanded
// it and the path meant; one that exists as written is taken.
func TestTildePaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Chdir(t.TempDir())
	hint := "not found, and no shell expanded the ~ (it was quoted, or passed by a script or job file): write the full path, "
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"train data", []string{"train", "--model", "resnet18", "--data", "~/photos", "--out", "run"}, "--data ~/photos: " + hint + home + "/photos"},
		{"train out", []string{"train", "--model", "resnet18", "--out", "~/runs/a"}, "--out ~/runs/a: " + hint + home + "/runs/a"},
		{"embed weights", []string{"embed", "--weights", "~/w.pth", "--data", "x", "--out", "f.npy"}, "--weights ~/w.pth: " + hint + home + "/w.pth"},
		{"compare merge", []string{"compare", "--out", "all", "--merge", "s1", "--merge", "~/s2"}, "--merge ~/s2: " + hint + home + "/s2"},
		{"predict argument", []string{"predict", "--model", "resnet18", "~/cat.jpg"}, "~/cat.jpg: " + hint + home + "/cat.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := gtl(tc.args...)
			if code != 2 || errOut != "gtl: "+tc.want+"\n" {
				t.Errorf("exit %d %q\nwant 2 %q", code, errOut, "gtl: "+tc.want+"\n")
			}
			if _, err := os.Stat("~"); err == nil {
				t.Error(`a folder named "~" was made`)
			}
		})
	}
	// A folder really named "~" is a path like any other.
	if err := os.MkdirAll(filepath.Join("~", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, _ := gtl("embed", "--model", "squeezenet1_1", "--data", "~/empty", "--out", "f.npy"); strings.Contains(errOut, "no shell") {
		t.Errorf("an existing ~ folder: %q", errOut)
	}
}
