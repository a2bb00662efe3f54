package gray

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hostile rule files of issue 15: each is rejected naming the key, the
// line and the limit, before anything large is built.

const twoRules = `rules:
  - {name: a, target: v2, priority: 5, match: {ids: [x]}}
  - {name: b, target: v3, priority: 6, match: {ids: [y]}}
`

func TestLoadIsStrict(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"JSON trailing }]}":   {`{"rules": [{"name": "a", "target": "b", "match": {"ids": ["x"]}}]}}]}`, `gray: line 1: unexpected "}]}" after the document (a file holds exactly one JSON value)`},
		"JSON trailing }":     {`{"rules": [{"name": "a", "target": "b", "match": {"ids": ["x"]}}]}}`, `gray: line 1: unexpected "}" after the document`},
		"second YAML doc":     {twoRules + "---\ngarbage: [\n", `gray: not YAML or JSON: a second YAML document that does not parse`},
		"second good doc":     {twoRules + "---\n" + twoRules, `gray: line 4: a second YAML document (a file holds exactly one document)`},
		"Rules beside rules":  {twoRules + "Rules:\n  - {name: c, target: v4, priority: 1, match: {ids: [x]}}\n", `gray: line 4: unknown field "Rules": field names are case-sensitive; did you mean "rules"?`},
		"duplicate rules":     {twoRules + "rules:\n  - {name: c, target: v4, priority: 1, match: {ids: [x]}}\n", `gray: line 4: duplicate key "rules" (first at line 1)`},
		"JSON case variant":   {`{"rules": [{"NAME": "a", "target": "b", "match": {"ids": ["x"]}}]}`, `gray: line 1: rules[0]: unknown field "NAME": field names are case-sensitive; did you mean "name"?`},
		"JSON duplicate":      {"{\"rules\": [{\"name\": \"a\", \"target\": \"b\",\n\"target\": \"c\", \"match\": {\"ids\": [\"x\"]}}]}", `gray: line 2: rules[0]: duplicate key "target" (first at line 1)`},
		"binary tag":          {"rules:\n  - {name: !!binary aGVsbG8=, target: b, match: {ids: [x]}}\n", `gray: line 2: rules[0].name: the YAML tag !!binary is not allowed`},
		"merge key":           {"base: &b {target: b}\nrules:\n  - {<<: *b, name: a, match: {ids: [x]}}\n", `gray: line 1: unknown field "base"`},
		"priority as string":  {"rules:\n  - {name: a, target: b, priority: \"1\", match: {ids: [x]}}\n", `gray: line 2: rules[0].priority: want a whole number, got a string`},
		"priority overflow":   {"rules:\n  - {name: a, target: b, priority: 9223372036854775808, match: {ids: [x]}}\n", `rules[0].priority: 9223372036854775808 is out of range`},
		"probability .nan":    {"rules:\n  - {name: a, target: b, match: {probability: .nan}}\n", `rules[0].match.probability: .nan is not a finite decimal number`},
		"percent in hex":      {"rules:\n  - {name: a, target: b, match: {percent: {percent: 0x10}}}\n", `percent.percent: 0x10 is not a whole number written in decimal`},
		"caseSensitive: yes":  {"rules:\n  - {name: a, target: b, match: {attribute: {name: c, in: [x], caseSensitive: yes}}}\n", `caseSensitive: want true or false, got a string`},
		"list of nulls":       {"rules:\n  - {name: a, target: b, match: {ids: [~]}}\n", `rules[0].match.ids[0]: want a string, got null`},
		"empty file":          {"", "gray: the file is empty"},
		"nested too deep":     {"rules:\n  - {name: a, target: b, match: " + strings.Repeat("{all: [", 40) + "{ids: [x]}" + strings.Repeat("]}", 40) + "}\n", "gray: line 2: nested deeper than the limit of 64 levels"},
		"alias cycle":         {"rules: &r [*r]\n", "gray: line 1: alias *r refers to a value that contains it"},
		"one problem a line":  {"Stable: x\nrules: {}\n", "gray: line 1: unknown field \"Stable\": field names are case-sensitive; did you mean \"stable\"?\ngray: line 2: rules: want a list, got an object"},
		"NUL in an id":        {`{"rules": [{"name": "a", "target": "v2", "match": {"ids": ["u1", "\u0000other"]}}]}`, `gray: rule "a": match.ids[1] contains a NUL byte`},
		"NUL in a value":      {`{"rules": [{"name": "a", "target": "v2", "match": {"attribute": {"name": "c\u0000", "in": ["\u0000absent"]}}}]}`, "gray: rule \"a\": match.attribute.name contains a NUL byte\ngray: rule \"a\": match.attribute.in[0] contains a NUL byte"},
		"NUL in a key":        {`{"rules": [{"name": "a", "target": "v2", "match": {"percent": {"percent": 5, "key": "\u0000"}}}]}`, `match.percent.key contains a NUL byte`},
		"validation per line": {"rules:\n  - {name: a, target: '', match: {}}\n", "gray: rule \"a\": target is empty\ngray: rule \"a\": match: set exactly one of"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(strings.NewReader(c.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestYAMLDoesNotRetypeNames: a plain 2026-01-01 is a YAML timestamp and
// 007 an integer; as a rule name, a target or a value they stay the
// strings written.
func TestYAMLDoesNotRetypeNames(t *testing.T) {
	rs, err := Load(strings.NewReader(`stable: 1.0
rules:
  - name: 2026-01-01
    target: 007
    match: {attribute: {name: build, in: [1e3, true, 0x1F, 2026-01-01T10:00:00Z]}}
`))
	require.NoError(t, err)
	r := rs.Rules[0]
	assert.Equal(t, "1.0", rs.Stable)
	assert.Equal(t, "2026-01-01", r.Name)
	assert.Equal(t, "007", r.Target)
	assert.Equal(t, []string{"1e3", "true", "0x1F", "2026-01-01T10:00:00Z"}, r.Match.Attribute.In)
}

// TestAliasesAreBoundedBeforeExpansion: a 4 MB string aliased 100 times
// reached 2.2 GB before the old code's "unknown field" error. The file cap
// rejects it unread; under the cap, the alias budget rejects the expansion
// by counting.
func TestAliasesAreBoundedBeforeExpansion(t *testing.T) {
	huge := "a: &a " + strings.Repeat("x", 4<<20) + "\nb: [" + strings.TrimSuffix(strings.Repeat("*a,", 100), ",") + "]\nrules: []\n"
	_, err := Load(strings.NewReader(huge))
	assert.EqualError(t, err, "gray: larger than the limit of 1 MiB")

	under := "rules:\n  - {name: a, target: b, match: {ids: [&big " + strings.Repeat("x", 600<<10) + "]}}\n  - {name: c, target: d, match: {ids: [*big, *big]}}\n"
	_, err = Load(strings.NewReader(under))
	assert.EqualError(t, err, "gray: line 3: aliases repeat more than the limit of 1 MiB (alias *big)")

	// Aliases within the budget work: a shared allow-list.
	rs, err := Load(strings.NewReader("rules:\n  - {name: a, target: b, match: {ids: &staff [u1, u2]}}\n  - {name: c, target: d, priority: 1, match: {all: [{ids: *staff}, {probability: 0.5}]}}\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"u1", "u2"}, rs.Rules[1].Match.All[0].IDs)
}

func TestLoadReadsWithACap(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	f, err := os.Open("/dev/zero")
	require.NoError(t, err)
	defer f.Close()
	_, err = Load(f)
	assert.EqualError(t, err, "gray: larger than the limit of 1 MiB")
}

// TestJSONIsReadAsJSON: JSON escapes that yaml.v3 lacks still load.
func TestJSONIsReadAsJSON(t *testing.T) {
	rs, err := Load(strings.NewReader(`{"rules": [{"name": "a", "target": "v2\/x", "match": {"ids": ["\u0041"]}}]}`))
	require.NoError(t, err)
	assert.Equal(t, "v2/x", rs.Rules[0].Target)
	assert.Equal(t, []string{"A"}, rs.Rules[0].Match.IDs)
}

// attributeRules makes n rules, each requiring attrs attributes of vals
// values (the same names and values in every rule).
func attributeRules(n, attrs, vals int, caseSensitive bool) *RuleSet {
	rs := &RuleSet{}
	for i := range n {
		m := Match{}
		for k := range attrs {
			var in []string
			for j := range vals {
				in = append(in, fmt.Sprintf("v%d", j))
			}
			m.All = append(m.All, Match{Attribute: &Attribute{Name: fmt.Sprintf("a%d", k), In: in, CaseSensitive: caseSensitive}})
		}
		rs.Rules = append(rs.Rules, Rule{Name: fmt.Sprintf("r%d", i), Target: fmt.Sprintf("t%d", i), Priority: i, Match: m})
	}
	return rs
}

// TestAnalysisBudgetBoundsTheWhole: 40 rules of 3 attributes of 32 values
// each stayed under the old per-question bound (2,000,000 classes) and ran
// for minutes in all; the budget prices the whole analysis first.
func TestAnalysisBudgetBoundsTheWhole(t *testing.T) {
	_, err := Analyze(attributeRules(40, 3, 32, false))
	require.ErrorIs(t, err, ErrTooComplex)
	assert.Contains(t, err.Error(), "gray: too complex: the analysis would take more than")
	assert.Contains(t, err.Error(), "(limit 500,000,000)")
	assert.Regexp(t, `the largest part: rule "r\d+" is checked over [\d,]+ request classes against \d+ higher-priority rules?`, err.Error())

	// Each rule alone is small: the old per-rule bound let them all run.
	sp := newSpace(mustCompile(t, attributeRules(40, 3, 32, false)).rules)
	assert.Less(t, sp.size(), 2_000_000)

	// Pricing is linear where the analysis is not: many equal-priority
	// rules fail on the index price before any space is built.
	many := attributeRules(MaxRules, 1, 300, false)
	for i := range many.Rules {
		many.Rules[i].Priority = 0
	}
	_, err = Analyze(many)
	require.ErrorIs(t, err, ErrTooComplex)
	assert.Contains(t, err.Error(), "indexing the conditions of 256 rules")
}

func mustCompile(t *testing.T, rs *RuleSet) *Engine {
	t.Helper()
	e, err := Compile(rs)
	require.NoError(t, err)
	return e
}

func TestTooManyRules(t *testing.T) {
	err := attributeRules(MaxRules+1, 1, 1, false).Validate()
	assert.EqualError(t, err, "gray: rules: 257 rules, over the limit of 256")
}

// TestPriceBoundsTheWork: the analysis does no more than it is priced
// at. Steps are counted by the price; the real work (condition
// evaluations) is counted here by enumerating the same questions.
func TestPriceIsAnUpperBound(t *testing.T) {
	for _, rs := range []*RuleSet{attributeRules(5, 2, 6, false), attributeRules(4, 2, 5, true), attributeRules(30, 1, 3, true)} {
		e := mustCompile(t, rs)
		cost, err := price(e.rules, capped)
		require.NoError(t, err)
		points := 0
		for i := range e.rules {
			sp := newSpace(e.rules[:i+1])
			sp.each(func(*point) { points++ })
			sp.ordinaryKeyOnly = true
			sp.each(func(*point) { points++ })
		}
		assert.LessOrEqual(t, points*perClass, cost)
		_, err = analyze(rs, cost)
		require.NoError(t, err, "a set priced at its cost runs")
		_, err = analyze(rs, cost-1)
		require.ErrorIs(t, err, ErrTooComplex, "one step less fails")
	}
}

// TestAnalysisMemoryIsBounded: the shares no longer keep a map entry per
// attribute class (3.5 million of them here).
func TestAnalysisMemoryIsBounded(t *testing.T) {
	rs := attributeRules(1, 3, 150, true)
	e := mustCompile(t, rs)
	cost, err := price(e.rules, capped)
	require.NoError(t, err)
	require.LessOrEqual(t, cost, MaxAnalysisSteps)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Analyze(rs)
	require.NoError(t, err)
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "allocated while analysing")
}
