// Package version describes how a slod or sloctl binary was built, from the
// build information the Go toolchain embeds.
package version

import (
	"runtime/debug"
	"strings"
)

// Build is what the toolchain recorded about a binary.
type Build struct {
	// Version is the module version (v0.3.1 with go install ...@v0.3.1, a
	// pseudo-version built from a VCS tag) or "devel".
	Version string
	// Revision is the VCS commit, shortened to 12 characters; Modified
	// says the work tree had uncommitted changes.
	Revision string
	Modified bool
	// Go is the toolchain version, e.g. go1.26.8.
	Go string
}

// Read returns this binary's Build.
func Read() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{Version: "devel"}
	}
	return fromInfo(info)
}

func fromInfo(info *debug.BuildInfo) Build {
	b := Build{Version: info.Main.Version, Go: info.GoVersion}
	if b.Version == "" || b.Version == "(devel)" {
		b.Version = "devel"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
			if len(b.Revision) > 12 {
				b.Revision = b.Revision[:12]
			}
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String renders the build as "v0.3.1 (revision 1b7d8a7c0ffe, go1.26.8)";
// a modified work tree adds "modified" after the revision.
func (b Build) String() string {
	var details []string
	if b.Revision != "" {
		details = append(details, "revision "+b.Revision)
		if b.Modified {
			details = append(details, "modified")
		}
	}
	if b.Go != "" {
		details = append(details, b.Go)
	}
	if len(details) == 0 {
		return b.Version
	}
	return b.Version + " (" + strings.Join(details, ", ") + ")"
}

// Line is what `PROGRAM --version` prints, without the newline:
// "slod version v0.3.1 (revision 1b7d8a7c0ffe, go1.26.8)".
func Line(program string) string {
	return program + " version " + Read().String()
}
