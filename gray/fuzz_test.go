package gray

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/fuzzseed"
)

// fuzzSeeds are the example rule files and the hostile inputs of issue 15
// that are generated rather than committed (small hostile seeds live in
// testdata/fuzz/<target>/).
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, name := range []string{"../examples/gray/checkout.yaml", "../examples/gray/clean.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	// The operators: not, numbers, an empty IN.
	seeds = append(seeds, []byte("rules:\n  - {name: a, target: x, priority: 1, match: {not: {attribute: {name: os, in: [iOS]}}}}\n  - {name: b, target: y, priority: 2, match: {all: [{number: {name: age, op: gte, value: 18}}, {not: {number: {name: age, op: gt, value: 65}}}, {date: {name: now, op: before, value: \"2027-01-01T00:00:00Z\"}}]}}\n  - {name: c, target: z, priority: 3, match: {attribute: {name: os, in: []}}}\n"))
	// The analysis bomb: 40 rules of 3 attributes of 32 values.
	var b strings.Builder
	b.WriteString("rules:\n")
	var vals []string
	for j := range 32 {
		vals = append(vals, fmt.Sprintf("v%d", j))
	}
	in := strings.Join(vals, ",")
	for i := range 40 {
		fmt.Fprintf(&b, "- {name: r%d, target: t%d, priority: %d, match: {all: [{attribute: {name: a0, in: [%s]}}, {attribute: {name: a1, in: [%s]}}, {attribute: {name: a2, in: [%s]}}]}}\n", i, i, i, in, in, in)
	}
	seeds = append(seeds, []byte(b.String()))
	// Nested aliases ("billion laughs"): a few hundred bytes that would
	// expand to gigabytes.
	laughs := "l0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
	for i := 1; i < 9; i++ {
		laughs += fmt.Sprintf("l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), 10), ","))
	}
	seeds = append(seeds, []byte(laughs+"rules: []\n"))
	// /dev/zero: one byte over the cap.
	seeds = append(seeds, make([]byte, MaxRuleBytes+1))
	return seeds
}

// FuzzLoad: any input (YAML or JSON) loads or fails with an error, never
// a panic; what loads is valid, and round-trips through JSON to the same
// rule set.
func FuzzLoad(f *testing.F) {
	fuzzseed.Add(f, fuzzSeeds(f)...)
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Load(bytes.NewReader(data))
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.NoError(t, rs.Validate())
		j, err := json.Marshal(rs)
		require.NoError(t, err)
		again, err := Load(bytes.NewReader(j))
		require.NoError(t, err, "%s", j)
		require.Equal(t, rs, again)
	})
}

// fuzzBudget keeps each analysis of the fuzzer small, so that it explores
// many rule sets; the budget's own bound is tested in hostile_test.go.
const fuzzBudget = 2_000_000

// FuzzAnalyze: whatever loads is analysed, within the budget or with
// ErrTooComplex, deterministically; findings and shares name rules of the
// set; rendering it for AppConfig fails only with an error.
func FuzzAnalyze(f *testing.F) {
	fuzzseed.Add(f, fuzzSeeds(f)...)
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		a, err := analyze(rs, fuzzBudget)
		if err != nil {
			require.ErrorIs(t, err, ErrTooComplex)
			return
		}
		again, err := analyze(rs, fuzzBudget)
		require.NoError(t, err)
		require.Equal(t, a, again, "deterministic")
		names := map[string]bool{}
		for _, r := range rs.Rules {
			names[r.Name] = true
		}
		require.Len(t, a.Shares, len(rs.Rules))
		for _, f := range a.Findings {
			require.True(t, names[f.Rule], f.Rule)
			for _, o := range f.Others {
				require.True(t, names[o], o)
			}
		}
		for _, s := range a.Shares {
			require.True(t, s.Effective <= s.Nominal+1e-9 && s.Nominal <= 1+1e-9 && s.Effective >= 0, "%+v", s)
		}
		_, _ = AppConfigFlag(rs, "flag")
	})
}
