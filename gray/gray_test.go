package gray

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMurmur3(t *testing.T) {
	// Reference vectors of MurmurHash3 x86 32 (seed 0).
	assert.Equal(t, uint32(0), Murmur3(""))
	assert.Equal(t, uint32(0x248bfa47), Murmur3("hello"))
	assert.Equal(t, uint32(0x2e4ff723), Murmur3("The quick brown fox jumps over the lazy dog"))
	// Unleash's normalizedValue test vectors (shared by its Node, Java
	// and Go clients).
	assert.Equal(t, uint32(73), Bucket("gr1", "123", 100))
	assert.Equal(t, uint32(25), Bucket("groupX", "999", 100))
	// Hashing the parts equals hashing the concatenation, for any split.
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		s := randString(r, r.IntN(40))
		i := r.IntN(len(s) + 1)
		j := i + r.IntN(len(s)-i+1)
		require.Equal(t, Murmur3(s), murmur3(s[:i], s[i:j], s[j:]), "%q split at %d,%d", s, i, j)
	}
}

func randString(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

// TestBucketingIsStableAndUniform: a 10% slice of 100,000 users holds
// 10% ± 1%, and per-mille slices are as fine as promised.
func TestBucketingIsStableAndUniform(t *testing.T) {
	for _, group := range []string{"checkout", "search-v2", ""} {
		var in10, in3pm int
		for i := range 100_000 {
			id := fmt.Sprintf("user-%d", i)
			b := Bucket(group, id, 100)
			require.Equal(t, b, Bucket(group, id, 100), "deterministic")
			require.True(t, b >= 1 && b <= 100)
			if b <= 10 {
				in10++
			}
			if Bucket(group, id, 1000) <= 3 {
				in3pm++
			}
		}
		assert.InDelta(t, 10_000, in10, 1_000, "group %q: 10%% of 100,000", group)
		assert.InDelta(t, 300, in3pm, 60, "group %q: 3‰ of 100,000", group)
	}
}

// TestPerMilleNestsInPercent: a ramp from per-mille to percent keeps every
// user it had (per-mille bucket ≤ 10p exactly when percent bucket ≤ p).
func TestPerMilleNestsInPercent(t *testing.T) {
	for i := range 50_000 {
		id := fmt.Sprintf("user-%d", i)
		pm, pc := Bucket("ramp", id, 1000), Bucket("ramp", id, 100)
		require.Equal(t, (pm-1)/10+1, pc, id)
	}
}

const sample = `
stable: v1
rules:
  - name: staff
    target: v2-staff
    priority: 1
    match: {ids: [alice, bob]}
  - name: shanghai-ios
    target: v2-city
    priority: 10
    match:
      all:
        - attribute: {name: city, in: [Shanghai]}
        - attribute: {name: os, in: [iOS]}
  - name: three-permille
    target: v3
    priority: 20
    match: {percent: {perMille: 3, group: checkout}}
`

func TestLoadAndEvaluate(t *testing.T) {
	rs, err := Load(strings.NewReader(sample))
	require.NoError(t, err)
	e, err := Compile(rs)
	require.NoError(t, err)
	cases := []struct {
		ctx  Context
		want string
		rule string
	}{
		{Context{Key: "alice"}, "v2-staff", "staff"},
		{Context{Key: "carol", Attributes: map[string]string{"city": "shanghai", "os": "IOS"}}, "v2-city", "shanghai-ios"},
		{Context{Key: "carol", Attributes: map[string]string{"city": "Beijing", "os": "iOS"}}, "v1", ""},
		{Context{Key: "", Attributes: map[string]string{"city": "Shanghai"}}, "v1", ""},
	}
	for _, c := range cases {
		v, r := e.Evaluate(&c.ctx)
		assert.Equal(t, c.want, v, "%+v", c.ctx)
		if c.rule == "" {
			assert.Nil(t, r)
		} else if assert.NotNil(t, r) {
			assert.Equal(t, c.rule, r.Name)
		}
	}
	// The per-mille rule takes the users whose checkout bucket is ≤ 3.
	n := 0
	for i := range 100_000 {
		ctx := Context{Key: fmt.Sprintf("u%d", i)}
		v, _ := e.Evaluate(&ctx)
		if v == "v3" {
			n++
			require.LessOrEqual(t, Bucket("checkout", ctx.Key, 1000), uint32(3))
		}
	}
	assert.InDelta(t, 300, n, 60)

	// JSON is YAML too.
	_, err = Load(strings.NewReader(`{"rules": [{"name": "a", "target": "v2", "match": {"percent": {"percent": 20}}}]}`))
	require.NoError(t, err)
}

func TestValidationNamesRuleAndField(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown field", `{"rules": [{"name": "a", "target": "v2", "match": {"percentage": 20}}]}`, []string{`unknown field "percentage"`}},
		{"not yaml", "rules: [", []string{"not YAML or JSON"}},
		{"every problem", `
rules:
  - name: a
    target: v1
    match: {percent: {percent: 120}}
  - name: a
    target: ""
    match: {}
  - name: "bad name!"
    target: v3
    match: {all: [{ids: []}, {attribute: {name: ""}}, {probability: 2}, {percent: {percent: 10, perMille: 5}}, {number: {name: n, op: ge, value: 1}}, {date: {name: t, op: on, value: "24 Dec"}}]}
`, []string{
			`rule "a": match.percent.percent is 120`,
			`rule "a": the name is used by another rule`,
			`rule "a": target is empty`,
			`rule "a": match: set exactly one of ids, attribute, percent, probability, all, any, not, number, date, semver (got 0)`,
			`rule "bad name!": name "bad name!" must match`,
			`rule "bad name!": match.all[0].ids is empty`,
			`match.all[1].attribute.name is empty`,
			`match.all[1].attribute.in is missing`,
			`match.all[4].number.op is "ge"; it must be one of eq, lt, lte, gt, gte`,
			`match.all[5].date.op is "on"; it must be one of before, after`,
			`match.all[5].date.value "24 Dec" is not an RFC 3339 time`,
			`match.all[2].probability is 2`,
			`match.all[3].percent: set exactly one of percent and perMille`,
		}},
		{"stable target", `{"stable": "v1", "rules": [{"name": "a", "target": "v1", "match": {"ids": ["x"]}}]}`, []string{`target "v1" is the stable variant`}},
		{"from above to", `{"rules": [{"name": "a", "target": "v2", "match": {"percent": {"percent": 20, "from": 30}}}]}`, []string{`match.percent.from is 30`}},
		{"empty", `{"rules": []}`, []string{"the set has no rules"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(c.src))
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEvaluateDoesNotAllocate(t *testing.T) {
	rs, err := Load(strings.NewReader(sample))
	require.NoError(t, err)
	e, err := Compile(rs)
	require.NoError(t, err)
	ctx := &Context{Key: "carol", Attributes: map[string]string{"city": "Beijing", "os": "Android"}}
	allocs := testing.AllocsPerRun(1000, func() { e.Evaluate(ctx) })
	assert.Zero(t, allocs)
}

func BenchmarkEvaluate(b *testing.B) {
	rs, err := Load(strings.NewReader(sample))
	if err != nil {
		b.Fatal(err)
	}
	e, err := Compile(rs)
	if err != nil {
		b.Fatal(err)
	}
	// The worst case: no rule matches, every rule is evaluated, the
	// per-mille rule hashes the key.
	ctx := &Context{Key: "carol-0123456789", Attributes: map[string]string{"city": "Beijing", "os": "Android"}}
	b.ReportAllocs()
	for b.Loop() {
		e.Evaluate(ctx)
	}
}

// TestKeylessAtTheWholeRange: a percentage of the request key at 100%
// takes every request, keyless ones too (Unleash's default stickiness
// gives a keyless request a random value, which the whole range holds);
// one keyed on an attribute needs its value, and below 100% a keyless
// request stays stable. The
// analysis and the AppConfig rendering read it the same way: a rule after
// a 100% rule is shadowed, and the rendered flag matches a keyless
// request at 100% only.
func TestKeylessAtTheWholeRange(t *testing.T) {
	for _, c := range []struct {
		match string
		want  string
	}{
		{`{percent: {percent: 100}}`, "canary"},
		{`{percent: {perMille: 1000}}`, "canary"},
		{`{percent: {percent: 99}}`, "stable"},
		{`{percent: {percent: 100, from: 50}}`, "stable"},
		{`{percent: {percent: 100, key: tenant}}`, "stable"}, // an attribute's slice needs its value (Unleash's explicit stickiness)
	} {
		t.Run(c.match, func(t *testing.T) {
			rs, err := Load(strings.NewReader("stable: stable\nrules:\n  - name: ramp\n    target: canary\n    priority: 1\n    match: " + c.match + "\n  - name: ios\n    target: ios\n    priority: 2\n    match: {attribute: {name: os, in: [iOS]}}\n"))
			require.NoError(t, err)
			e, err := Compile(rs)
			require.NoError(t, err)
			keyless := &Context{Attributes: map[string]string{"os": "Android"}}
			v, _ := e.Evaluate(keyless)
			assert.Equal(t, c.want, v)
			a, err := Analyze(rs)
			require.NoError(t, err)
			shadowed := false
			for _, f := range a.Findings {
				shadowed = shadowed || (f.Kind == FindingShadowed && f.Rule == "ios")
			}
			whole := c.want == "canary"
			assert.Equal(t, whole, shadowed, "the rule after a 100%% rule is shadowed, keyless requests included: %+v", a.Findings)
			flag, err := AppConfigFlag(rs, "f")
			require.NoError(t, err)
			assert.Equal(t, whole, strings.Contains(fmt.Sprint(flag), "(gte $"), "%v", flag)
		})
	}
}
