package gray

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNotNumberAndEmptyIn: the operators Unleash users reach for — an
// inverted condition, numeric comparisons, an IN with no values — route
// as Unleash reads them, and the analysis sees through them (shadowing,
// matches-nothing); AppConfig renders "not" and refuses numbers by name.
func TestNotNumberAndEmptyIn(t *testing.T) {
	load := func(t *testing.T, rules string) *RuleSet {
		t.Helper()
		rs, err := Load(strings.NewReader("rules:\n" + rules))
		require.NoError(t, err)
		return rs
	}
	eval := []struct {
		match string
		ctx   map[string]string
		want  bool
	}{
		{`{number: {name: age, op: gte, value: 18}}`, map[string]string{"age": "18"}, true},
		{`{number: {name: age, op: gte, value: 18}}`, map[string]string{"age": "17.5"}, false},
		{`{number: {name: age, op: gt, value: 18}}`, map[string]string{"age": " 18.01 "}, true},
		{`{number: {name: age, op: lt, value: 0}}`, map[string]string{"age": "-1e3"}, true},
		{`{number: {name: age, op: lte, value: 3}}`, map[string]string{"age": "three"}, false},
		{`{number: {name: age, op: eq, value: 3}}`, map[string]string{"age": "NaN"}, false},
		{`{number: {name: age, op: eq, value: 3}}`, map[string]string{}, false},
		{`{not: {attribute: {name: os, in: [iOS]}}}`, map[string]string{"os": "Android"}, true},
		{`{not: {attribute: {name: os, in: [iOS]}}}`, map[string]string{"os": "ios"}, false},
		{`{not: {attribute: {name: os, in: [iOS]}}}`, map[string]string{}, true},
		{`{attribute: {name: os, in: []}}`, map[string]string{"os": ""}, false},
		{`{date: {name: now, op: after, value: "2026-12-24T00:00:00Z"}}`, map[string]string{"now": "2026-12-24T01:00:00+01:00"}, false},
		{`{date: {name: now, op: after, value: "2026-12-24T00:00:00Z"}}`, map[string]string{"now": "2026-12-24T00:00:00.001Z"}, true},
		{`{date: {name: now, op: before, value: "2026-12-24T00:00:00Z"}}`, map[string]string{"now": "yesterday"}, false},
		{`{not: {attribute: {name: os, in: []}}}`, map[string]string{"os": "x"}, true},
	}
	for _, c := range eval {
		t.Run(c.match, func(t *testing.T) {
			e, err := Compile(load(t, "  - {name: r, target: canary, match: "+c.match+"}\n"))
			require.NoError(t, err)
			v, _ := e.Evaluate(&Context{Key: "u", Attributes: c.ctx})
			assert.Equal(t, c.want, v == "canary", "%v", c.ctx)
		})
	}

	findings := func(t *testing.T, rules string) map[string]string {
		t.Helper()
		a, err := Analyze(load(t, rules))
		require.NoError(t, err)
		out := map[string]string{}
		for _, f := range a.Findings {
			out[f.Rule] += f.Kind + " "
		}
		return out
	}
	// Adults first, then over-21s: every over-21 is an adult.
	f := findings(t, "  - {name: adults, target: a, priority: 1, match: {number: {name: age, op: gte, value: 18}}}\n  - {name: over21, target: b, priority: 2, match: {number: {name: age, op: gt, value: 21}}}\n")
	assert.Contains(t, f["over21"], FindingShadowed)
	// Minors first: over-21s still reachable.
	f = findings(t, "  - {name: minors, target: a, priority: 1, match: {number: {name: age, op: lt, value: 18}}}\n  - {name: over21, target: b, priority: 2, match: {number: {name: age, op: gt, value: 21}}}\n")
	assert.NotContains(t, f["over21"], FindingShadowed)
	// Contradictions and an empty IN accept nothing.
	f = findings(t, "  - {name: never, target: a, match: {all: [{number: {name: age, op: lt, value: 10}}, {number: {name: age, op: gt, value: 20}}]}}\n  - {name: empty, target: b, match: {attribute: {name: os, in: []}}}\n")
	assert.Contains(t, f["never"], FindingMatchNothing)
	assert.Contains(t, f["empty"], FindingMatchNothing)
	// Before Christmas, then after New Year: both reachable; after
	// Christmas, then after New Year: the second is shadowed.
	f = findings(t, "  - {name: early, target: a, priority: 1, match: {date: {name: now, op: before, value: \"2026-12-25T00:00:00Z\"}}}\n  - {name: late, target: b, priority: 2, match: {date: {name: now, op: after, value: \"2027-01-01T00:00:00Z\"}}}\n")
	assert.Empty(t, f["late"])
	f = findings(t, "  - {name: xmas, target: a, priority: 1, match: {date: {name: now, op: after, value: \"2026-12-25T00:00:00Z\"}}}\n  - {name: late, target: b, priority: 2, match: {date: {name: now, op: after, value: \"2027-01-01T00:00:00Z\"}}}\n")
	assert.Contains(t, f["late"], FindingShadowed)
	// Not iOS, then iOS: both reachable; not-iOS before "any os" shadows
	// only part of it.
	f = findings(t, "  - {name: notios, target: a, priority: 1, match: {not: {attribute: {name: os, in: [iOS]}}}}\n  - {name: ios, target: b, priority: 2, match: {attribute: {name: os, in: [iOS]}}}\n")
	assert.Empty(t, f["ios"])
	// A probability under not: possibly matches, never surely.
	f = findings(t, "  - {name: most, target: a, priority: 1, match: {not: {probability: 0.1}}}\n  - {name: rest, target: b, priority: 2, match: {ids: [u]}}\n")
	assert.NotContains(t, f["rest"], FindingShadowed)

	doc, err := AppConfigFlag(load(t, "  - {name: notios, target: a, match: {not: {attribute: {name: os, in: [iOS]}}}}\n"), "f")
	require.NoError(t, err)
	assert.Contains(t, fmt.Sprint(doc), `(not (eq $attr_os_lower "ios"))`)
	_, err = AppConfigFlag(load(t, "  - {name: none, target: a, match: {not: {attribute: {name: os, in: []}}}}\n"), "f")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in: [] (matching nothing) is not rendered")
	_, err = AppConfigFlag(load(t, "  - {name: adults, target: a, match: {number: {name: age, op: gte, value: 18}}}\n"), "f")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `number conditions (attribute "age") are not rendered`)
}

// TestAMatchThatContainsItself: a Match built in Go that points back at
// itself is refused by Validate, not recursed into without end.
func TestAMatchThatContainsItself(t *testing.T) {
	m := Match{Attribute: &Attribute{Name: "os", In: []string{"iOS"}}}
	m.Not = &m
	m.Attribute = nil
	_, err := Compile(&RuleSet{Rules: []Rule{{Name: "r", Target: "v", Match: m}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested more than 64 deep")
}

// TestOperatorsReviewCases: what a review found the first versions of
// the operators got wrong — in evaluation (dates outside 1678–2262,
// pre-release numbers past 64 bits) and in the analysis (a string
// condition claiming a number's only spelling, numbers past 2^53, the
// largest patch, nanosecond midpoints) — each with the request that
// reaches the rule.
func TestOperatorsReviewCases(t *testing.T) {
	route := func(t *testing.T, rules string, attrs map[string]string) string {
		t.Helper()
		rs, err := Load(strings.NewReader("rules:\n" + rules))
		require.NoError(t, err)
		e, err := Compile(rs)
		require.NoError(t, err)
		v, _ := e.Evaluate(&Context{Key: "u", Attributes: attrs})
		return v
	}
	assert.Equal(t, "a", route(t, `  - {name: r, target: a, match: {date: {name: t, op: before, value: "9999-12-31T23:59:59Z"}}}`+"\n", map[string]string{"t": "2026-06-01T00:00:00Z"}))
	assert.Equal(t, "a", route(t, `  - {name: r, target: a, match: {date: {name: t, op: after, value: "2026-01-01T00:00:00Z"}}}`+"\n", map[string]string{"t": "2300-01-01T00:00:00Z"}))
	assert.Equal(t, "stable", route(t, `  - {name: r, target: a, match: {date: {name: t, op: after, value: "2026-01-01T00:00:00Z"}}}`+"\n", map[string]string{"t": "1600-01-01T00:00:00Z"}))
	assert.Equal(t, "a", route(t, `  - {name: r, target: a, match: {semver: {name: v, op: gt, value: "1.0.0-99999999999999999999"}}}`+"\n", map[string]string{"v": "1.0.0-100000000000000000000"}))

	for _, c := range []struct {
		name, rules, rule string
		attrs             map[string]string
	}{
		{"a string condition on a number's spelling", "  - {name: s, target: a, priority: 1, match: {attribute: {name: n, in: [\"5\"], caseSensitive: true}}}\n  - {name: r, target: b, priority: 2, match: {number: {name: n, op: eq, value: 5}}}\n", "r", map[string]string{"n": "5.0"}},
		{"a string condition on a version", "  - {name: s, target: a, priority: 1, match: {attribute: {name: v, in: [\"2.0.0\"]}}}\n  - {name: r, target: b, priority: 2, match: {semver: {name: v, op: eq, value: 2.0.0}}}\n", "r", map[string]string{"v": "2.0.0+build.7"}},
		{"not a number below, then not a string", "  - {name: s, target: a, priority: 1, match: {not: {number: {name: n, op: lt, value: 5}}}}\n  - {name: r, target: b, priority: 2, match: {not: {attribute: {name: n, in: [\"4\", \"5\", \"6\"]}}}}\n", "r", map[string]string{"n": "3"}},
		{"past 2^53", "  - {name: r, target: b, match: {number: {name: n, op: gt, value: 1e20}}}\n", "r", map[string]string{"n": "1e21"}},
		{"the largest patch", "  - {name: r, target: b, match: {semver: {name: v, op: gt, value: 1.0.18446744073709551615}}}\n", "r", map[string]string{"v": "1.1.0"}},
		{"a nanosecond apart", "  - {name: r, target: b, match: {all: [{date: {name: t, op: after, value: \"2026-01-01T00:00:00.000000001Z\"}}, {date: {name: t, op: before, value: \"2026-01-01T00:00:00.000000003Z\"}}]}}\n", "r", map[string]string{"t": "2026-01-01T00:00:00.000000002Z"}},
		{"far-apart years", "  - {name: r, target: b, match: {all: [{date: {name: t, op: after, value: \"0001-01-01T00:00:00Z\"}}, {date: {name: t, op: before, value: \"9999-01-01T00:00:00Z\"}}]}}\n", "r", map[string]string{"t": "2026-01-01T00:00:00Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := Load(strings.NewReader("rules:\n" + c.rules))
			require.NoError(t, err)
			e, err := Compile(rs)
			require.NoError(t, err)
			_, hit := e.Evaluate(&Context{Key: "u", Attributes: c.attrs})
			require.NotNil(t, hit, "the request reaches a rule")
			require.Equal(t, c.rule, hit.Name)
			a, err := Analyze(rs)
			require.NoError(t, err)
			for _, f := range a.Findings {
				if f.Rule == c.rule {
					assert.NotContains(t, []string{FindingShadowed, FindingMatchNothing}, f.Kind, "%+v", f)
				}
			}
		})
	}
}
