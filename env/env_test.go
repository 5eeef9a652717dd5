package env

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestThreads(t *testing.T) {
	tests := []struct {
		val     string
		want    int
		wantErr bool
	}{{"", 0, false}, {"3", 3, false}, {" 2 ", 2, false}, {"0", 0, true}, {"x", 0, true}, {"-1", 0, true}}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			t.Setenv(NumThreads.Name, tt.val)
			got, err := Threads()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Threads() = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHomeDir(t *testing.T) {
	h, _ := os.UserHomeDir()
	tests := []struct{ val, want string }{
		{"", filepath.Join(h, ".cache/gtl")},
		{"/tmp/x", "/tmp/x"},
		{"~/w", filepath.Join(h, "w")},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			t.Setenv(Home.Name, tt.val)
			got, err := HomeDir()
			if err != nil || got != tt.want {
				t.Fatalf("HomeDir() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAllNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range All() {
		if len(v.Name) < 5 || v.Name[:4] != "GTL_" && v.Name != "HF_ENDPOINT" || v.Description == "" || seen[v.Name] {
			t.Errorf("bad or duplicate variable %+v", v)
		}
		seen[v.Name] = true
	}
}

func TestCheckMalloc(t *testing.T) {
	tests := []struct {
		val     string
		wantErr string
	}{
		{"", ""}, {"reuse", ""}, {"system", ""},
		{"sytem", `env: GTL_MALLOC="sytem": want reuse or system`},
		{"System", `env: GTL_MALLOC="System": want reuse or system`},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			t.Setenv(Malloc.Name, tt.val)
			err := CheckMalloc()
			if got := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && got != tt.wantErr) {
				t.Fatalf("CheckMalloc() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
