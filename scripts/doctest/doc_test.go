package doctest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gtl-dev/gtl/vision"
)

// block is one fenced block of a markdown file.
type block struct {
	file  string
	line  int    // of the opening fence, from 1
	lang  string // sh, bash, text, "" ...
	text  []string
	run   bool
	setup []string
	small map[string]string
	arch  []string
}

// readBlocks returns the fenced blocks of a markdown file with their
// doctest comments; a doctest comment that is not right before a fence is
// an error.
func readBlocks(path string) ([]block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	var out []block
	var pending *block
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(strings.TrimSpace(l), "<!-- doctest") {
			d := &block{small: map[string]string{}}
			body := strings.TrimPrefix(strings.TrimSpace(l), "<!-- doctest")
			for !strings.Contains(body, "-->") {
				i++
				if i == len(lines) {
					return nil, fmt.Errorf("%s:%d: doctest comment without -->", path, i)
				}
				body += "\n" + lines[i]
			}
			body = body[:strings.Index(body, "-->")]
			for _, dl := range strings.Split(body, "\n") {
				dl = strings.TrimSpace(dl)
				key, val, ok := strings.Cut(dl, ":")
				switch {
				case dl == "":
				case ok && key == "setup":
					d.setup = append(d.setup, strings.TrimSpace(val))
				case ok && key == "weights":
					d.arch = append(d.arch, strings.TrimSpace(val))
				case ok && strings.HasPrefix(key, "small "):
					d.small[strings.TrimSpace(strings.TrimPrefix(key, "small "))] = strings.TrimSpace(val)
				default:
					return nil, fmt.Errorf("%s:%d: doctest comment: %q is not setup:, weights: or small CMD:", path, i+1, dl)
				}
			}
			if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
				return nil, fmt.Errorf("%s:%d: a doctest comment must be right before a fenced block", path, i+1)
			}
			d.run = true
			pending = d
			continue
		}
		if !strings.HasPrefix(l, "```") {
			continue
		}
		b := block{file: path, line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(l, "```"))}
		if pending != nil {
			b.run, b.setup, b.small, b.arch = true, pending.setup, pending.small, pending.arch
			pending = nil
		}
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			b.text = append(b.text, lines[i])
		}
		out = append(out, b)
	}
	return out, nil
}

// shellBlock reports whether a block holds commands to run (every line),
// rather than output with $-prompted commands in it.
func (b block) shellBlock() bool { return b.lang == "sh" || b.lang == "bash" || b.lang == "shell" }

// logicalLines joins backslash continuations; for output blocks only the
// $-prompted commands are kept. Each result keeps its first line number.
func (b block) logicalLines() (lines []string, at []int) {
	for i := 0; i < len(b.text); i++ {
		l := b.text[i]
		prompted := strings.HasPrefix(l, "$ ")
		if !b.shellBlock() && !prompted {
			continue
		}
		start := i
		l = strings.TrimPrefix(l, "$ ")
		for strings.HasSuffix(l, "\\") && i+1 < len(b.text) {
			i++
			l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(b.text[i])
		}
		lines = append(lines, l)
		at = append(at, b.line+1+start)
	}
	return lines, at
}

// segment is one simple command of a line: its text and where it ends.
type segment struct {
	text     string
	from, to int
}

// segments splits a shell line at unquoted |, &&, ||, ; and drops a
// trailing # comment.
func segments(line string) []segment {
	var out []segment
	quote := byte(0)
	start := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || line[i-1] == ' '):
			out = append(out, segment{line[start:i], start, i})
			return out
		case c == '|' || c == ';' || c == '&':
			out = append(out, segment{line[start:i], start, i})
			for i+1 < len(line) && (line[i+1] == '|' || line[i+1] == '&') {
				i++
			}
			start = i + 1
		}
	}
	return append(out, segment{line[start:], start, len(line)})
}

// words splits a simple command into words (quotes removed).
func words(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// invocation is a gtl command found in a segment.
type invocation struct {
	command string
	flags   []string // --name, as written
}

var envAssign = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// parseInvocation returns the gtl command in a segment, if it is one.
func parseInvocation(seg string, global flagSet) (invocation, bool) {
	w := words(seg)
	for len(w) > 0 && (envAssign.MatchString(w[0]) || w[0] == "time" || w[0] == "nice" || w[0] == "sudo" || w[0] == "exec") {
		if w[0] == "nice" && len(w) > 2 && w[1] == "-n" {
			w = w[2:]
		}
		w = w[1:]
	}
	if len(w) == 0 || (w[0] != "gtl" && !strings.HasSuffix(w[0], "/gtl")) {
		return invocation{}, false
	}
	var inv invocation
	w = w[1:]
	for len(w) > 0 && strings.HasPrefix(w[0], "-") { // global flags before the command
		name, _, hasVal := strings.Cut(w[0], "=")
		inv.flags = append(inv.flags, name)
		w = w[1:]
		if global[name] && !hasVal && len(w) > 0 {
			w = w[1:]
		}
	}
	if len(w) == 0 {
		return inv, true
	}
	inv.command = w[0]
	for _, x := range w[1:] {
		if strings.HasPrefix(x, "--") && len(x) > 2 {
			name, _, _ := strings.Cut(x, "=")
			inv.flags = append(inv.flags, name)
		}
	}
	return inv, true
}

// flagSet maps a command's long flags to whether they take a value.
type flagSet map[string]bool

var optionLine = regexp.MustCompile(`^\s+(--?[a-z0-9][a-z0-9-]*( value)?(, --?[a-z0-9][a-z0-9-]*( value)?)*)(\s{2,}|$)`)

// helpFlags reads a command's flags from its --help.
func helpFlags(bin string, args ...string) (flagSet, string, error) {
	out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
	if err != nil {
		return nil, string(out), err
	}
	fs := flagSet{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		m := optionLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		for _, part := range strings.Split(m[1], ", ") {
			name, val, _ := strings.Cut(part, " ")
			fs[name] = val == "value"
		}
	}
	return fs, string(out), nil
}

// docFiles are the files whose blocks are checked.
func docFiles(t *testing.T) []string {
	files := []string{"../../README.md"}
	more, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := filepath.Glob("../../docs/*/*.md")
	files = append(append(files, more...), sub...)
	sort.Strings(files[1:])
	return files
}

var (
	buildOnce      sync.Once
	binPath, binIn string
	buildErr       error
)

// gtlBinary builds cmd/gtl once for the package's tests.
func gtlBinary(t *testing.T) (bin, binDir string) {
	t.Helper()
	buildOnce.Do(func() {
		binIn, buildErr = os.MkdirTemp("", "doctest-bin")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binIn, "gtl")
		if out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/gtl").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath, binIn
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binIn != "" {
		os.RemoveAll(binIn)
	}
	os.Exit(code)
}

// checkFlags checks every gtl command of the files' blocks against the
// binary's commands and flags; it returns the problems, one line each, the
// blocks to run, and how many commands it checked.
func checkFlags(bin string, files []string) (problems []string, runs []block, checked int, err error) {
	global, _, err := helpFlags(bin)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("gtl --help: %v", err)
	}
	commands := map[string]flagSet{}
	for _, f := range files {
		blocks, err := readBlocks(f)
		if err != nil {
			return nil, nil, 0, err
		}
		for _, b := range blocks {
			if b.run {
				runs = append(runs, b)
			}
			lines, at := b.logicalLines()
			for i, l := range lines {
				for _, s := range segments(l) {
					inv, ok := parseInvocation(s.text, global)
					if !ok {
						continue
					}
					where := fmt.Sprintf("%s:%d", strings.TrimPrefix(f, "../../"), at[i])
					if inv.command == "" || strings.HasPrefix(inv.command, "<") || strings.ToUpper(inv.command) == inv.command {
						continue // gtl --help, gtl <command>, gtl COMMAND
					}
					fs, ok := commands[inv.command]
					if !ok {
						var out string
						if fs, out, err = helpFlags(bin, inv.command); err != nil {
							problems = append(problems, fmt.Sprintf("%s: gtl %s: not a command: %s", where, inv.command, firstLine(out)))
							commands[inv.command] = nil
							continue
						}
						commands[inv.command] = fs
					}
					if fs == nil {
						continue
					}
					for _, fl := range inv.flags {
						_, ok := fs[fl]
						if _, g := global[fl]; !ok && !g {
							problems = append(problems, fmt.Sprintf("%s: gtl %s has no flag %s (%s)", where, inv.command, fl, strings.TrimSpace(l)))
						}
					}
					checked++
				}
			}
		}
	}
	return problems, runs, checked, nil
}

// TestDocs checks every gtl command shown in README.md and docs/ against
// the binary's flags, then runs the blocks marked with a doctest comment.
func TestDocs(t *testing.T) {
	bin, binDir := gtlBinary(t)
	problems, runs, checked, err := checkFlags(bin, docFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 20 {
		t.Errorf("only %d gtl commands found in the docs: is the parser broken?", checked)
	}
	t.Logf("%d gtl commands checked against their flags; %d blocks to run", checked, len(runs))
	if t.Failed() {
		return
	}
	runBlocks(t, bin, binDir, runs)
}

// TestCheckFlags feeds the checker a page with known mistakes.
func TestCheckFlags(t *testing.T) {
	bin, _ := gtlBinary(t)
	page := filepath.Join(t.TempDir(), "page.md")
	md := "```sh\n" +
		"gtl train --data photos --epochs 3 --out run1   # fine\n" +
		"gtl --threads 2 eval --weights run1/best.safetensors --data photos/test | tee eval.txt && gtl predict --topk 3 x.jpg\n" +
		"gtl train --data photos \\\n    --epoch 2\n" +
		"gtl trian --data photos\n" +
		"GTL_NUM_THREADS=1 gtl train --data=photos --frezee 2\n" +
		"echo gtl train --nothing   # not a gtl command\n" +
		"```\n\n```\n$ gtl models resnet18 --bogus\nresnet18 11.69M\n```\n"
	if err := os.WriteFile(page, []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, _, checked, err := checkFlags(bin, []string{page})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"page.md:3: gtl predict has no flag --topk",
		"page.md:4: gtl train has no flag --epoch",
		"page.md:6: gtl trian: not a command",
		"page.md:7: gtl train has no flag --frezee",
		"page.md:12: gtl models has no flag --bogus",
	}
	if len(problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, problems[i], w)
		}
	}
	if checked != 6 {
		t.Errorf("%d commands checked, want 6", checked)
	}
}

// TestWithSmall checks where the small-size flags go.
func TestWithSmall(t *testing.T) {
	small := map[string]string{"train": "--epochs 1", "eval": "--tta=false"}
	for _, tc := range []struct{ in, want string }{
		{"gtl train --data photos --out run1", "gtl train --data photos --out run1 --epochs 1"},
		{"gtl train --data photos | tail -3", "gtl train --data photos --epochs 1 | tail -3"},
		{"gtl eval --data x && gtl predict a.jpg", "gtl eval --data x --tta=false && gtl predict a.jpg"},
		{"gtl train --data 'a b'  # note", "gtl train --data 'a b' --epochs 1  # note"},
		{"gtl models", "gtl models"},
	} {
		if got := withSmall(tc.in, small); got != tc.want {
			t.Errorf("withSmall(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// runBlocks runs the marked blocks file by file, each file in a folder of
// its own.
func runBlocks(t *testing.T, bin, binDir string, runs []block) {
	byFile := map[string][]block{}
	var order []string
	for _, b := range runs {
		if _, ok := byFile[b.file]; !ok {
			order = append(order, b.file)
		}
		byFile[b.file] = append(byFile[b.file], b)
	}
	for _, f := range order {
		f := f
		t.Run(strings.TrimPrefix(f, "../../"), func(t *testing.T) {
			dir := t.TempDir()
			home := filepath.Join(dir, ".gtl-home")
			if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(bin, filepath.Join(dir, "bin", "gtl")); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "GTL_HOME="+home, "GTL_NUM_THREADS=1")
			small := map[string]string{}
			var setup []string
			var archs []string
			for _, b := range byFile[f] {
				setup = append(setup, b.setup...)
				archs = append(archs, b.arch...)
				for k, v := range b.small {
					small[k] = v
				}
			}
			for _, a := range archs {
				seedWeights(t, home, a)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			sh := func(what, script string) {
				cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+script)
				cmd.Dir, cmd.Env = dir, env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("%s: %v\n%s\n--- output ---\n%s", what, err, script, out)
				}
			}
			for _, s := range setup {
				sh("setup", s)
			}
			for _, b := range byFile[f] {
				lines, _ := b.logicalLines()
				var script []string
				for _, l := range lines {
					script = append(script, withSmall(l, small))
				}
				sh(fmt.Sprintf("%s:%d", strings.TrimPrefix(b.file, "../../"), b.line), strings.Join(script, "\n"))
			}
		})
	}
}

// withSmall appends the small-size flags of each gtl command in a line,
// at the end of its simple command (so that they win over the line's own).
func withSmall(line string, small map[string]string) string {
	var b strings.Builder
	prev := 0
	for _, s := range segments(line) {
		inv, ok := parseInvocation(s.text, flagSet{"--threads": true})
		part := line[prev:s.to]
		if extra := small[inv.command]; ok && extra != "" {
			trimmed := strings.TrimRight(part, " ")
			part = trimmed + " " + extra + part[len(trimmed):]
		}
		b.WriteString(part)
		prev = s.to
	}
	b.WriteString(line[prev:])
	return b.String()
}

// seedWeights puts torchvision-initialised weights for arch, saved by
// PyTorch's torch.save, where --pretrained looks for them, so that the
// docs' commands run without network.
func seedWeights(t *testing.T, home, arch string) {
	t.Helper()
	p, err := vision.PretrainedNamed(arch, "")
	if err != nil {
		t.Fatal(err)
	}
	name := p.FileName()
	dst := filepath.Join(home, "weights", name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	py := fmt.Sprintf("import torch, torchvision\ntorch.manual_seed(0)\ntorch.save(torchvision.models.%s().state_dict(), %q)\n", arch, dst)
	if out, err := exec.Command("/usr/bin/python3", "-c", py).CombinedOutput(); err != nil {
		t.Fatalf("python3 torchvision %s: %v\n%s", arch, err, out)
	}
}
