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
