package gray

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSemverPrecedence: semver.org's own ordering example (item 11), and
// what parseVersion refuses.
func TestSemverPrecedence(t *testing.T) {
	order := []string{"0.0.0-0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1-0", "2.0.0", "2.1.0", "2.1.1"}
	for i := range order {
		for j := range order {
			a, ok := parseVersion(order[i])
			require.True(t, ok, order[i])
			b, _ := parseVersion(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			assert.Equal(t, want, compareVersions(a, b), "%s vs %s", order[i], order[j])
		}
	}
	build, ok := parseVersion("1.0.0+20130313144700")
	require.True(t, ok)
	release, _ := parseVersion("1.0.0")
	assert.Zero(t, compareVersions(build, release), "build metadata has no precedence")
	for _, bad := range []string{"v2.0.0", "1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3-ä", "", "not a semver"} {
		_, ok := parseVersion(bad)
		assert.False(t, ok, bad)
	}
}

// TestSemverSuccessor: nothing lies strictly between a version and its
// successor, among the versions near it.
func TestSemverSuccessor(t *testing.T) {
	near := []string{"1.2.3", "1.2.3-0", "1.2.3-1", "1.2.3-a", "1.2.3-a.0", "1.2.3-a.1", "1.2.3-a-", "1.2.3-b", "1.2.4-0", "1.2.4", "1.3.0", "1.2.3-rc.1", "1.2.3-rc.1.0"}
	var vs []version
	for _, s := range near {
		v, ok := parseVersion(s)
		require.True(t, ok, s)
		vs = append(vs, v)
	}
	for _, v := range vs {
		s := v.successor()
		require.Negative(t, compareVersions(v, s), "%s < %s", v, s)
		for _, w := range vs {
			between := compareVersions(v, w) < 0 && compareVersions(w, s) < 0
			assert.False(t, between, "%s lies between %s and its successor %s", w, v, s)
		}
	}
}

// TestSemverConditions: routing and the analysis on semver conditions.
func TestSemverConditions(t *testing.T) {
	rs, err := Load(strings.NewReader("rules:\n  - {name: new, target: a, priority: 1, match: {semver: {name: app, op: gte, value: 2.0.0-rc.1}}}\n  - {name: beta, target: b, priority: 2, match: {semver: {name: app, op: gt, value: 2.0.0-beta}}}\n  - {name: old, target: c, priority: 3, match: {semver: {name: app, op: lt, value: 1.0.0}}}\n"))
	require.NoError(t, err)
	e, err := Compile(rs)
	require.NoError(t, err)
	for v, want := range map[string]string{"2.0.0": "a", "2.0.0-rc.1": "a", "2.0.0-rc.0": "b", "2.0.0-beta.1": "b", "0.9.9": "c", "1.5.0": "stable", "v2.0.0": "stable", "junk": "stable"} {
		got, _ := e.Evaluate(&Context{Attributes: map[string]string{"app": v}})
		assert.Equal(t, want, got, v)
	}
	a, err := Analyze(rs)
	require.NoError(t, err)
	assert.False(t, slices.ContainsFunc(a.Findings, func(f Finding) bool { return f.Kind == FindingShadowed }), "%+v", a.Findings)
	rs, err = Load(strings.NewReader("rules:\n  - {name: new, target: a, priority: 1, match: {semver: {name: app, op: gte, value: 2.0.0-beta}}}\n  - {name: rc, target: b, priority: 2, match: {semver: {name: app, op: gte, value: 2.0.0-rc.1}}}\n"))
	require.NoError(t, err)
	a, err = Analyze(rs)
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(a.Findings, func(f Finding) bool { return f.Kind == FindingShadowed && f.Rule == "rc" }), "%+v", a.Findings)
}

// FuzzParseVersion: the reader never panics, and what it accepts without
// build metadata writes back as read.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-alpha.1", "1.0.0+b", "01.1.1", "1.2.3-0.a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := parseVersion(s)
		if ok && !strings.Contains(s, "+") && strings.TrimSpace(s) == s && v.String() != s {
			t.Fatalf("%q read as %q", s, v)
		}
	})
}
