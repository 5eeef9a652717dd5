package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExportKeepsPreprocessing: a 32-px checkpoint exported to .pth, .ot
// and .safetensors predicts as the checkpoint does (its classes and input
// size travel in the JSON beside the file, or in the safetensors'
// metadata); without them gtl says so in one line and uses 224 px, and
// --image-size 32 puts it right.
func TestExportKeepsPreprocessing(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeEvalFolder(t, data, []string{"cat", "dog", "fox"}, []int{4, 4, 4})
	imgs := filepath.Join(data, "test")
	// A 32-px checkpoint: seeded weights and a description saying 32 px.
	ck := filepath.Join(dir, "ck.safetensors")
	if _, stderr, code := gtl("export", "-q", "--model", "resnet18", "--num-classes", "3", "--seed", "3", "--format", "safetensors", "--out", ck); code != 0 {
		t.Fatal(stderr)
	}
	meta := `{"arch":"resnet18","num_classes":3,"classes":["cat","dog","fox"],"preprocess":{"crop_size":32,"resize_size":32,` +
		`"interpolation":"bilinear","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}}`
	if err := os.WriteFile(filepath.Join(dir, "ck.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	predict := func(w string, extra ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := gtl(append([]string{"predict", "--weights", w, "--model", "resnet18", "-k", "3", imgs}, extra...)...)
		if code != 0 {
			t.Fatalf("predict %s: %d %s", w, code, stderr)
		}
		return stdout, stderr
	}
	want, _ := predict(ck)
	if !strings.Contains(want, "cat") || strings.Contains(want, "class 0") {
		t.Fatalf("the checkpoint's class names are not used:\n%s", want)
	}
	// The exported formats hold the checkpoint's data: gtl export of the
	// checkpoint, then the checkpoint's copy of safetensors without its
	// JSON (the description inside the file).
	for _, f := range []string{"e.pth", "e.ot", "e2.safetensors"} {
		out := filepath.Join(dir, f)
		format := strings.TrimPrefix(filepath.Ext(f), ".")
		stdout, stderr, code := gtl("export", "-q", "--weights", ck, "--format", format, "--out", out)
		if code != 0 || !strings.Contains(stdout, "description -> "+strings.TrimSuffix(out, "."+format)+".json (3 classes; resize 32, crop 32,") {
			t.Fatalf("export %s: %d %s %s", f, code, stdout, stderr)
		}
		if got, stderr := predict(out); got != want || strings.Contains(stderr, "carries no preprocessing") {
			t.Errorf("%s predicts otherwise than the checkpoint:\n%s\nwant:\n%s\n%s", f, got, want, stderr)
		}
	}
	if err := os.Remove(filepath.Join(dir, "e2.json")); err != nil {
		t.Fatal(err)
	}
	if got, _ := predict(filepath.Join(dir, "e2.safetensors")); got != want {
		t.Errorf("a .safetensors without its JSON lost its description (__metadata__):\n%s", got)
	}
	// Without the description: one line saying so, and 224 px.
	if err := os.Remove(filepath.Join(dir, "e.json")); err != nil {
		t.Fatal(err)
	}
	pth := filepath.Join(dir, "e.pth")
	bare, stderr := predict(pth)
	note := regexp.MustCompile(`(?m)^note: ` + regexp.QuoteMeta(pth) + ` carries no preprocessing \(no e\.json beside it\): using resize 256, crop 224, bilinear, mean 0\.485,0\.456,0\.406, std 0\.229,0\.224,0\.225; --image-size, --mean and --std set it$`)
	if !note.MatchString(stderr) {
		t.Errorf("no note on the missing preprocessing:\n%s", stderr)
	}
	if strings.ReplaceAll(bare, "class 0", "cat") == want {
		t.Errorf("at 224 px the bare .pth predicts as at 32 px: the test checks nothing")
	}
	// --image-size and --mean/--std set it by hand.
	fixed, stderr := predict(pth, "--image-size", "32", "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225")
	for i, name := range []string{"cat", "dog", "fox"} {
		fixed = strings.ReplaceAll(fixed, "class "+string(rune('0'+i)), name)
	}
	if fixed != want || !strings.Contains(stderr, "using resize 32, crop 32,") {
		t.Errorf("--image-size 32:\n%s\nwant:\n%s\n%s", fixed, want, stderr)
	}
	for _, tc := range []struct{ args []string }{
		{[]string{"--image-size", "0"}}, {[]string{"--mean", "1,2"}}, {[]string{"--std", "0.2,0,0.2"}},
	} {
		_, stderr, code := gtl(append([]string{"predict", "-q", "--weights", pth, "--model", "resnet18", imgs}, tc.args...)...)
		if code != 2 || !strings.HasPrefix(stderr, "gtl: "+tc.args[0]+" ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: %d %q", tc.args, code, stderr)
		}
	}
}
