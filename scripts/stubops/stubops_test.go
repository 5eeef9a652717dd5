package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A tiny stand-in for gotch's generated wrapper: one good op, one calling an
// op the "library" lacks, one whose error surfaces inside a template, and a
// pointer-returning one with a wrong signature.
const fakeHeader = `#include <stdexcept>
#include <string>
#include <tuple>
#include <cstring>
thread_local char *torch_last_err = nullptr;
#define PROTECT(x) try { x } catch (const std::exception &e) { torch_last_err = strdup(e.what()); }
typedef int *tensor;
namespace torch {
inline int add(int a, int b) { return a + b; }
inline std::tuple<int, int> pair(int a) { return {a, a}; }
inline int takes_string(const std::string &s) { return (int)s.size(); }
}
`

const fakeGen = `// generated
void atg_add(tensor *out__, tensor a, tensor b) {
  PROTECT(
    int v = torch::add(*a, *b);
    out__[0] = new int(v);
  )
}

void atg_missing(tensor *out__, tensor a) {
  PROTECT(
    auto v = torch::missing_op(*a);
    out__[0] = new int(v);
  )
}

void atg_tuple5(tensor *out__, tensor a) {
  PROTECT(
    auto v = torch::pair(*a);
    out__[0] = new int(std::get<5>(v));
  )
}

tensor *atg_wrong_sig(tensor a) {
  PROTECT(
    int v = torch::takes_string(*a);
    return nullptr;
  )
  return nullptr;
}

int64_t atg_scalar_ok(tensor a) {
  PROTECT(
    return (long)torch::add(*a, 1);
  )
  return 0;
}
`

func TestParseFunctions(t *testing.T) {
	fns := parseFunctions(strings.Split(fakeGen, "\n"))
	want := []struct {
		name, rt string
	}{
		{"atg_add", "void"}, {"atg_missing", "void"}, {"atg_tuple5", "void"},
		{"atg_wrong_sig", "tensor *"}, {"atg_scalar_ok", "int64_t"},
	}
	if len(fns) != len(want) {
		t.Fatalf("found %d functions, want %d: %+v", len(fns), len(want), fns)
	}
	for i, w := range want {
		if fns[i].name != w.name || fns[i].returnType != w.rt {
			t.Errorf("function %d = %s returning %q, want %s returning %q", i, fns[i].name, fns[i].returnType, w.name, w.rt)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name       string
		diag       string
		wantLines  []int
		wantUnassn int
	}{
		{
			name:      "direct error",
			diag:      "torch_api_generated.cpp.h: In function 'void atg_x()':\ntorch_api_generated.cpp.h:626:29: error: '_cslt_compress' is not a member of 'torch'\n",
			wantLines: []int{626},
		},
		{
			name: "error inside a template traced back",
			diag: "/usr/include/c++/12/tuple: In instantiation of 'struct std::tuple_element<5>':\n" +
				"/usr/include/c++/12/bits/utility.h:84:11:   required by substitution of 'x'\n" +
				"torch_api_generated.cpp.h:1458:3:   required from here\n" +
				"/usr/include/c++/12/tuple:1357:25: error: static assertion failed: tuple index must be in range\n",
			wantLines: []int{1458},
		},
		{
			name:       "error in hand-written code",
			diag:       "torch_api.cpp:12:3: error: 'foo' was not declared in this scope\n",
			wantUnassn: 1,
		},
		{
			name:      "path prefix and notes ignored",
			diag:      "/x/libtch/torch_api_generated.cpp.h:10:5: error: bad\n/usr/include/a.h:3:1: note: candidate: torch_api_generated.cpp.h:99:1: error: not a location\n",
			wantLines: []int{10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parseErrors(strings.NewReader(tt.diag), "torch_api_generated.cpp.h")
			if err != nil {
				t.Fatal(err)
			}
			if len(d.genLines) != len(tt.wantLines) {
				t.Fatalf("lines %v, want %v", d.genLines, tt.wantLines)
			}
			for i := range d.genLines {
				if d.genLines[i] != tt.wantLines[i] {
					t.Errorf("lines %v, want %v", d.genLines, tt.wantLines)
				}
			}
			if len(d.unassigned) != tt.wantUnassn {
				t.Errorf("unassigned %q, want %d", d.unassigned, tt.wantUnassn)
			}
		})
	}
}

func TestApplyKeepsUntouchedFunctions(t *testing.T) {
	// Line 10 is inside atg_missing, line 24 inside atg_wrong_sig, line 1 in none.
	out, res := apply(fakeGen, []int{10, 11, 24, 1}, "9.9.9")
	if got := strings.Join(res.disabled, ","); got != "atg_missing,atg_wrong_sig" {
		t.Errorf("disabled %s", got)
	}
	if len(res.skipped) != 1 || res.skipped[0] != 1 {
		t.Errorf("skipped %v, want [1]", res.skipped)
	}
	for _, keep := range []string{"torch::add(*a, *b)", "torch::pair(*a)", "return (long)torch::add(*a, 1);"} {
		if !strings.Contains(out, keep) {
			t.Errorf("untouched code %q was lost", keep)
		}
	}
	for _, gone := range []string{"missing_op", "takes_string"} {
		if strings.Contains(out, gone) {
			t.Errorf("stubbed code %q still present", gone)
		}
	}
	if !strings.Contains(out, `op missing is not available in libtorch 9.9.9`) {
		t.Errorf("stub message missing:\n%s", out)
	}
	if !strings.Contains(out, "tensor *atg_wrong_sig(tensor a) {\n  // gtl: disabled") || !strings.Contains(out, "  return nullptr;\n}") {
		t.Errorf("pointer stub malformed:\n%s", out)
	}
}

// TestCompileLoop runs the loop of scripts/setup.sh on the fake files with the
// real C++ compiler: compile, stub what fails, compile again, and check that the
// stubbed op raises its error while the others still work.
func TestCompileLoop(t *testing.T) {
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not installed")
	}
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("api.h", fakeHeader)
	write("torch_api_generated.cpp.h", fakeGen)
	write("main.cpp", `#include "api.h"
#include <cstdint>
#include <cstdio>
#include "torch_api_generated.cpp.h"
int main() {
  int a = 2, b = 3; tensor out[1] = {nullptr};
  atg_add(out, &a, &b);
  if (!out[0] || *out[0] != 5) return 1;
  atg_missing(out, &a);
  if (!torch_last_err) return 2;
  std::puts(torch_last_err);
  torch_last_err = nullptr;
  if (atg_wrong_sig(&a) != nullptr || !torch_last_err) return 3;
  return 0;
}
`)
	gen := filepath.Join(dir, "torch_api_generated.cpp.h")
	list := filepath.Join(dir, "disabled.txt")
	var disabled []string
	for round := 0; ; round++ {
		if round > 3 {
			t.Fatal("did not converge")
		}
		cmd := exec.Command(cxx, "-std=c++17", "-fsyntax-only", "-fmax-errors=0", "-w", "main.cpp")
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if cmd.Run() == nil {
			break
		}
		write("errors.txt", stderr.String())
		if err := run([]string{"-gen", gen, "-errors", filepath.Join(dir, "errors.txt"), "-version", "1.13.0", "-list", list}); err != nil {
			t.Fatalf("round %d: %v\n%s", round, err, stderr.String())
		}
	}
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	disabled = strings.Fields(string(b))
	if got := strings.Join(disabled, ","); got != "atg_missing,atg_tuple5,atg_wrong_sig" {
		t.Errorf("disabled %s, want atg_missing,atg_tuple5,atg_wrong_sig", got)
	}
	bin := filepath.Join(dir, "a.out")
	if out, err := exec.Command(cxx, "-std=c++17", "-w", "-o", bin, filepath.Join(dir, "main.cpp")).CombinedOutput(); err != nil {
		t.Fatalf("final compile: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("stubbed program: %v\n%s", err, out)
	}
	if want := "gtl: op missing is not available in libtorch 1.13.0"; !strings.Contains(string(out), want) {
		t.Errorf("runtime error %q does not contain %q", out, want)
	}
}

func TestRunRefusesForeignErrors(t *testing.T) {
	dir := t.TempDir()
	gen := filepath.Join(dir, "torch_api_generated.cpp.h")
	errs := filepath.Join(dir, "e.txt")
	os.WriteFile(gen, []byte(fakeGen), 0o644)
	os.WriteFile(errs, []byte("torch_api.cpp:3:1: error: 'x' was not declared\n"), 0o644)
	err := run([]string{"-gen", gen, "-errors", errs})
	if err == nil || !strings.Contains(err.Error(), "outside the generated ops") {
		t.Fatalf("err = %v, want a refusal naming errors outside the generated ops", err)
	}
	if b, _ := os.ReadFile(gen); string(b) != fakeGen {
		t.Error("generated file changed although stubops refused")
	}
}
