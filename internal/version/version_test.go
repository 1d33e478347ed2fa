package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildString(t *testing.T) {
	cases := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{name: "a released module", info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1"}},
			want: "v0.3.1 (go1.26.8)"},
		{name: "a checkout with local changes", info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1b7d8a7c0ffee0123456789abcdef0123456789a"}, {Key: "vcs.modified", Value: "true"}}},
			want: "devel (revision 1b7d8a7c0ffe, modified, go1.26.8)"},
		{name: "a clean checkout with a tag-derived version", info: debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.2-0.20261201120000-1b7d8a7c0ffe"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "1b7d8a7c0ffee0123456789abcdef0123456789a"}, {Key: "vcs.modified", Value: "false"}}},
			want: "v0.3.2-0.20261201120000-1b7d8a7c0ffe (revision 1b7d8a7c0ffe, go1.26.8)"},
		{name: "nothing recorded", info: debug.BuildInfo{}, want: "devel"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromInfo(&tc.info).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLineNamesTheProgramAndToolchain(t *testing.T) {
	got := Line("slod")
	if !strings.HasPrefix(got, "slod version ") || !strings.Contains(got, "go1.") {
		t.Errorf("Line = %q", got)
	}
}
