package gray

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func kinds(a *Analysis) map[string][]string {
	out := map[string][]string{}
	for _, f := range a.Findings {
		out[f.Rule] = append(out[f.Rule], f.Kind)
	}
	return out
}

func analyzeYAML(t *testing.T, src string) *Analysis {
	t.Helper()
	rs, err := Load(strings.NewReader(src))
	require.NoError(t, err)
	a, err := Analyze(rs)
	require.NoError(t, err)
	return a
}

func TestAnalyze(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want map[string][]string
	}{
		{"allow-list inside a broader allow-list", `
rules:
  - {name: broad, target: a, priority: 1, match: {ids: [u1, u2, u3]}}
  - {name: narrow, target: b, priority: 2, match: {ids: [u2]}}`,
			map[string][]string{"narrow": {FindingShadowed}}},
		{"attribute set inside a broader one, case-insensitively", `
rules:
  - {name: cities, target: a, priority: 1, match: {attribute: {name: city, in: [Shanghai, Beijing]}}}
  - {name: shanghai-ios, target: b, priority: 2, match: {all: [{attribute: {name: city, in: [SHANGHAI]}}, {attribute: {name: os, in: [ios]}}]}}`,
			map[string][]string{"shanghai-ios": {FindingShadowed}}},
		{"case-sensitive broader rule leaves other casings", `
rules:
  - {name: exact, target: a, priority: 1, match: {attribute: {name: city, in: [Shanghai], caseSensitive: true}}}
  - {name: folded, target: b, priority: 2, match: {attribute: {name: city, in: [shanghai]}}}`,
			map[string][]string{}},
		{"a mixed casing still reaches a case-insensitive rule", `
rules:
  - {name: exact, target: a, priority: 0, match: {attribute: {name: city, in: [paris, PARIS], caseSensitive: true}}}
  - {name: folded, target: b, priority: 1, match: {attribute: {name: city, in: [paris]}}}`,
			map[string][]string{}},
		{"percent inside a larger percent of the same group", `
rules:
  - {name: twenty, target: a, priority: 1, match: {percent: {percent: 20, group: g}}}
  - {name: ten, target: b, priority: 2, match: {percent: {percent: 10, group: g}}}`,
			map[string][]string{"ten": {FindingShadowed}}},
		{"20% then 20% in one group: the second gets nothing", `
rules:
  - {name: first, target: a, priority: 1, match: {percent: {percent: 20, group: g}}}
  - {name: second, target: b, priority: 2, match: {percent: {percent: 20, group: g}}}`,
			map[string][]string{"second": {FindingShadowed}}},
		{"20% then 30%: split order", `
rules:
  - {name: first, target: a, priority: 1, match: {percent: {percent: 20, group: g}}}
  - {name: second, target: b, priority: 2, match: {percent: {percent: 30, group: g}}}`,
			map[string][]string{"second": {FindingSplitOrder}}},
		{"disjoint slices are fine", `
rules:
  - {name: first, target: a, priority: 1, match: {percent: {percent: 20, group: g}}}
  - {name: second, target: b, priority: 2, match: {percent: {from: 20, percent: 40, group: g}}}`,
			map[string][]string{}},
		{"different groups do not shadow", `
rules:
  - {name: first, target: a, priority: 1, match: {percent: {percent: 50, group: g1}}}
  - {name: second, target: b, priority: 2, match: {percent: {percent: 10, group: g2}}}`,
			map[string][]string{}},
		{"any-of shadows a rule through its parts together", `
rules:
  - {name: a-or-b, target: x, priority: 1, match: {any: [{attribute: {name: channel, in: [app]}}, {attribute: {name: channel, in: [web]}}]}}
  - {name: c, target: y, priority: 2, match: {ids: [u9]}}
  - {name: app-web, target: z, priority: 3, match: {all: [{attribute: {name: channel, in: [web, app]}}, {percent: {percent: 5}}]}}`,
			map[string][]string{"app-web": {FindingShadowed}}},
		{"a probability never shadows", `
rules:
  - {name: coin, target: a, priority: 1, match: {probability: 1.0}}
  - {name: half, target: b, priority: 2, match: {probability: 0.5}}
  - {name: staff, target: c, priority: 3, match: {ids: [u1]}}`,
			map[string][]string{"coin": {FindingNonSticky}, "half": {FindingNonSticky, FindingShadowed}, "staff": {FindingShadowed}}},
		{"an allow-listed key inside a percentage, by its real bucket", fmt.Sprintf(`
rules:
  - {name: low, target: a, priority: 1, match: {percent: {percent: %d, group: gr1}}}
  - {name: vip, target: b, priority: 2, match: {ids: ["123"]}}`, Bucket("gr1", "123", 100)),
			map[string][]string{"vip": {FindingShadowed}}},
		{"ambiguous overlap at equal priority", `
rules:
  - {name: city, target: a, priority: 5, match: {attribute: {name: city, in: [Paris]}}}
  - {name: ios, target: b, priority: 5, match: {attribute: {name: os, in: [ios]}}}`,
			map[string][]string{"ios": {FindingOverlap}}},
		{"disjoint at equal priority is fine", `
rules:
  - {name: paris, target: a, priority: 5, match: {attribute: {name: city, in: [Paris]}}}
  - {name: rome, target: b, priority: 5, match: {attribute: {name: city, in: [Rome]}}}`,
			map[string][]string{}},
		{"one variant, two rules", `
rules:
  - {name: paris, target: a, priority: 1, match: {attribute: {name: city, in: [Paris]}}}
  - {name: rome, target: a, priority: 2, match: {attribute: {name: city, in: [Rome]}}}`,
			map[string][]string{"paris": {FindingOneVariant}, "rome": {FindingOneVariant}}},
		{"contradiction matches nothing", `
rules:
  - {name: never, target: a, priority: 1, match: {all: [{attribute: {name: city, in: [Paris], caseSensitive: true}}, {attribute: {name: city, in: [Rome], caseSensitive: true}}]}}`,
			map[string][]string{"never": {FindingMatchNothing}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := analyzeYAML(t, c.src)
			got := kinds(a)
			for k := range got {
				sort.Strings(got[k])
			}
			for k := range c.want {
				sort.Strings(c.want[k])
			}
			assert.Equal(t, c.want, got, "%+v", a.Findings)
		})
	}
}

func TestShares(t *testing.T) {
	a := analyzeYAML(t, `
rules:
  - {name: first, target: a, priority: 1, match: {percent: {percent: 20, group: g}}}
  - {name: second, target: b, priority: 2, match: {percent: {percent: 30, group: g}}}
  - {name: third, target: c, priority: 3, match: {percent: {from: 30, percent: 40, group: g}}}
  - {name: permille, target: d, priority: 4, match: {percent: {perMille: 3, group: h}}}`)
	got := map[string][2]float64{}
	for _, s := range a.Shares {
		got[s.Rule] = [2]float64{s.Nominal, s.Effective}
	}
	assert.InDelta(t, 0.20, got["first"][0], 1e-9)
	assert.InDelta(t, 0.20, got["first"][1], 1e-9)
	assert.InDelta(t, 0.30, got["second"][0], 1e-9)
	assert.InDelta(t, 0.10, got["second"][1], 1e-9, "20% then 30% leaves the second 10%")
	assert.InDelta(t, 0.10, got["third"][1], 1e-9, "a disjoint slice keeps its share")
	assert.InDelta(t, 0.003, got["permille"][0], 1e-9)
	assert.InDelta(t, 0.003*0.6, got["permille"][1], 1e-9, "independent groups: 3‰ of the 60% the others leave")
}

// TestShadowDetectionAgainstBruteForce generates rule sets and checks the
// analysis against evaluation over a population: a rule reported shadowed
// (or matching nothing) never routes a request, and a rule that never
// routes one is reported.
func TestShadowDetectionAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ids := []string{"u1", "u2", "u3", "u4", "u5"}
	cities := []string{"Paris", "Rome", "Oslo"}
	oses := []string{"ios", "android"}
	var leaf func(depth int) Match
	leaf = func(depth int) Match {
		switch k := r.IntN(6); {
		case k == 0:
			return Match{IDs: pick(r, ids)}
		case k == 1:
			vals := pick(r, cities)
			if r.IntN(2) == 0 {
				vals[0] = strings.ToUpper(vals[0])
			}
			return Match{Attribute: &Attribute{Name: "city", In: vals, CaseSensitive: r.IntN(3) == 0}}
		case k == 2:
			return Match{Attribute: &Attribute{Name: "os", In: pick(r, oses)}}
		case k == 3:
			from := 10 * r.IntN(5)
			to := from + 10*(1+r.IntN(5))
			return Match{Percent: &Percent{Percent: &to, From: from, Group: "g"}}
		case depth < 2 && k == 4:
			return Match{All: []Match{leaf(depth + 1), leaf(depth + 1)}}
		default:
			if depth < 2 {
				return Match{Any: []Match{leaf(depth + 1), leaf(depth + 1)}}
			}
			return Match{IDs: pick(r, ids)}
		}
	}
	// The population: every named id, 2,000 ordinary keys and no key,
	// times every city and OS (named, other casings, other, absent).
	keys := append(append([]string{}, ids...), "")
	for i := range 2000 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	cityVals := []string{"Paris", "PARIS", "paris", "pARIS", "Rome", "ROME", "rome", "rOmE", "Oslo", "OSLO", "oslo", "Lima", ""}
	osVals := []string{"ios", "IOS", "android", "ANDROID", "tizen", ""}
	shadowedSeen, total := 0, 0
	for c := range 60 {
		rs := &RuleSet{}
		for i := range 2 + r.IntN(5) {
			rs.Rules = append(rs.Rules, Rule{Name: fmt.Sprintf("r%d", i), Target: fmt.Sprintf("v%d", i), Priority: i, Match: leaf(0)})
		}
		a, err := Analyze(rs)
		require.NoError(t, err)
		flagged := map[string]bool{}
		for _, f := range a.Findings {
			if f.Kind == FindingShadowed || f.Kind == FindingMatchNothing {
				flagged[f.Rule] = true
			}
		}
		e, err := Compile(rs)
		require.NoError(t, err)
		reached := map[string]bool{}
		for _, k := range keys {
			for _, city := range cityVals {
				for _, os := range osVals {
					attrs := map[string]string{}
					if city != "" {
						attrs["city"] = city
					}
					if os != "" {
						attrs["os"] = os
					}
					if _, rule := e.Evaluate(&Context{Key: k, Attributes: attrs}); rule != nil {
						reached[rule.Name] = true
					}
				}
			}
		}
		for _, rule := range rs.Rules {
			total++
			if flagged[rule.Name] {
				shadowedSeen++
				assert.False(t, reached[rule.Name], "case %d: %s is reported shadowed but routes requests\n%+v", c, rule.Name, rs.Rules)
			} else {
				assert.True(t, reached[rule.Name], "case %d: %s routes no request but is not reported\n%+v\n%+v", c, rule.Name, rs.Rules, a.Findings)
			}
		}
	}
	t.Logf("%d rules, %d shadowed", total, shadowedSeen)
	assert.Greater(t, shadowedSeen, 10, "the generator produces shadowed rules")
}

func pick(r *rand.Rand, from []string) []string {
	n := 1 + r.IntN(len(from))
	p := r.Perm(len(from))[:n]
	out := make([]string, n)
	for i, j := range p {
		out[i] = from[j]
	}
	return out
}
