package datasets

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// PathHint explains why a path that starts with "~" is not found: a shell
// expands "~" (and "~user") to a home folder, but a quoted path, or one
// passed by a script, a job file or a program, reaches gtl as it is
// written. It returns "" for other paths and for one that exists as
// written (a folder really named "~"); otherwise a hint for the end of an
// error message, e.g. "no shell expanded the ~ (it was quoted, or passed
// by a script or job file): write the full path, /home/me/photos".
func PathHint(path string) string {
	if !strings.HasPrefix(path, "~") {
		return ""
	}
	if _, err := os.Lstat(path); err == nil {
		return ""
	}
	const why = "no shell expanded the ~ (it was quoted, or passed by a script or job file)"
	name, rest, _ := strings.Cut(path[1:], "/")
	var home string
	if name == "" {
		home, _ = os.UserHomeDir()
	} else if u, err := user.Lookup(name); err == nil {
		home = u.HomeDir
	}
	if home == "" {
		return why + ": write the full path"
	}
	return why + ": write the full path, " + filepath.Join(home, rest)
}
