package gray

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/fuzzseed"
)

func attr(name string, in ...string) Match {
	return Match{Attribute: &Attribute{Name: name, In: in}}
}

func release(name string, priority int, m Match, services ...string) Release {
	r := Release{Name: name, Priority: priority, Match: m, Services: map[string]string{}}
	for i := 0; i+1 < len(services); i += 2 {
		r.Services[services[i]] = services[i+1]
	}
	return r
}

// The seed's cases (multi-canary release): Order v1.1 and Email v2.1 for
// Android users; another team's canary for Atlantis; a shared downstream
// canary Z'.
var (
	android  = release("android", 0, attr("device", "Android"), "order", "v1.1", "email", "v2.1")
	atlantis = release("atlantis", 0, attr("city", "Atlantis"), "email", "v2.2", "sms", "v3")
)

func TestAnalyzeReleases(t *testing.T) {
	atlantis20 := atlantis
	atlantis20.Priority = 20
	android10 := android
	android10.Priority = 10
	for _, tc := range []struct {
		name     string
		releases []Release
		// want: kind@release → substrings of the message.
		want map[string][]string
	}{
		{"disjoint releases", []Release{android10,
			release("ios", 10, attr("device", "iOS"), "order", "v1.2")}, map[string][]string{}},
		{"overlapping canaries of two teams without priorities", []Release{android, atlantis}, map[string][]string{
			"ambiguous-overlap@atlantis": {"device=Android ∧ city=Atlantis", "same priority (0)", "android takes them",
				"email serves v2.1", "order serves v1.1", "sms serves stable, not atlantis's v3"},
		}},
		{"overlap with explicit priorities: which release wins in each service", []Release{android10, atlantis20}, map[string][]string{
			"release-overlap@atlantis": {"device=Android ∧ city=Atlantis", `city="Atlantis", device="Android"`, "android takes them (priority 10 before 20)",
				"email serves v2.1, order serves v1.1, sms serves stable, not atlantis's v3"},
		}},
		{"shared downstream canary", []Release{
			release("android", 10, attr("device", "Android"), "order", "v1.1", "z", "z-prime"),
			release("atlantis", 20, attr("city", "Atlantis"), "email", "v2.2", "z", "z-prime")}, map[string][]string{
			"shared-canary@android":    {"service z's canary z-prime serves 2 releases (android, atlantis)"},
			"shared-canary@atlantis":   {"service z's canary z-prime serves 2 releases (android, atlantis)"},
			"release-overlap@atlantis": {"z serves z-prime"},
		}},
		{"a release shadowed by another that changes other services", []Release{
			release("android-all", 1, attr("device", "Android"), "order", "v1.1"),
			release("android-beijing", 2, Match{All: []Match{attr("device", "Android"), attr("city", "Beijing")}}, "email", "v2.1")}, map[string][]string{
			"shadowed@android-beijing":        {"taken first by android-all"},
			"release-overlap@android-beijing": {"device=Android ∧ device=Android ∧ city=Beijing", "email serves stable, not android-beijing's v2.1"},
		}},
		{"an equal-priority overlap that a higher release takes entirely", []Release{
			release("ios-all", 3, attr("device", "iOS"), "order", "o3"),
			release("ios", 5, attr("device", "iOS"), "email", "e2"),
			release("pct", 5, Match{Percent: &Percent{Percent: ptr(10)}}, "order", "o2")}, map[string][]string{
			"shadowed@ios":          {"taken first by ios-all"},
			"release-overlap@ios":   {"ios-all takes them"},
			"release-overlap@pct":   {"ios-all takes them"},
			"ambiguous-overlap@pct": {"same priority (5)", "Today higher-priority releases take every such request first"},
		}},
		{"a release whose conditions contradict", []Release{
			release("none", 1, Match{All: []Match{attr("device", "iOS"), attr("device", "Android")}}, "order", "o4")}, map[string][]string{
			"matches-nothing@none": {"the release's conditions accept no request"},
		}},
		{"a percentage release after an attribute release", []Release{
			release("pilot", 1, attr("city", "Atlantis"), "order", "v2"),
			release("tenpct", 2, Match{Percent: &Percent{Percent: ptr(10)}}, "order", "v3", "email", "v3")}, map[string][]string{
			"release-overlap@tenpct": {"city=Atlantis ∧ bucket(tenpct)∈(0, 10]%", "email serves stable, not tenpct's v3"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := AnalyzeReleases(&ReleaseSet{Releases: tc.releases})
			require.NoError(t, err)
			got := map[string]string{}
			for _, f := range a.Findings {
				key := f.Kind + "@" + f.Rule
				require.NotContains(t, got, key, "one finding per kind and release")
				got[key] = f.Message
			}
			for key, subs := range tc.want {
				require.Contains(t, got, key, "findings: %v", got)
				for _, s := range subs {
					assert.Contains(t, got[key], s, key)
				}
			}
			for key := range got {
				assert.Contains(t, tc.want, key, "unexpected finding %s: %s", key, got[key])
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestReleasesAreBounded(t *testing.T) {
	var rels []Release
	for i := range 40 {
		var vals []string
		for v := range 32 {
			vals = append(vals, fmt.Sprintf("v%d-%d", i, v))
		}
		rels = append(rels, release(fmt.Sprintf("r%d", i), i, Match{All: []Match{attr("a", vals...), attr("b", vals...), attr("c", vals...)}}, "svc", fmt.Sprintf("c%d", i)))
	}
	_, err := AnalyzeReleases(&ReleaseSet{Releases: rels})
	require.ErrorIs(t, err, ErrTooComplex)
	// The overlap pass is priced with the rest: half the budget each.
	_, err = analyzeReleases(&ReleaseSet{Releases: []Release{android, atlantis}}, 2)
	require.ErrorIs(t, err, ErrTooComplex)
}

func TestReleaseValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		rs   []Release
		want []string
	}{
		{"no releases", nil, []string{"the set has no releases"}},
		{"every problem at once", []Release{
			{Name: "stable", Match: attr("device", "x"), Services: map[string]string{"order": "stable", "bad name": "v1"}},
			{Name: "", Match: Match{}, Services: nil},
		}, []string{`release "stable": "stable" names what a service serves`, `services.order: version "stable"`,
			`service name "bad name"`, "releases[1]: name", "releases[1]: services is empty", "releases[1]: match: set exactly one"}},
		{"duplicate names across files", []Release{
			{Name: "a", Match: attr("d", "x"), Services: map[string]string{"s": "v1"}, Source: "team1.yaml"},
			{Name: "a", Match: attr("d", "y"), Services: map[string]string{"s": "v2"}, Source: "team2.yaml"},
		}, []string{`release "a" (team2.yaml): the name is used by another release (team1.yaml)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&ReleaseSet{Releases: tc.rs}).Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	rules := "rules:\n  - {name: a, target: v2, match: {ids: [u1]}}\n"
	releases := "releases:\n  - {name: android, match: {attribute: {name: device, in: [Android]}}, services: {order: v1.1}}\n"
	for _, tc := range []struct {
		name, in     string
		rules, chain bool
		err          string
	}{
		{"a rule set", rules, true, false, ""},
		{"releases", releases, false, true, ""},
		{"neither", "{}", false, false, "neither rules nor releases"},
		{"stable beside releases", "stable: s\n" + releases, false, false, "stable is a field of a rule set"},
		{"duplicate service", "releases:\n  - name: a\n    match: {ids: [u]}\n    services:\n      order: v1\n      order: v2\n", false, false, "order"},
		{"trailing document", releases + "---\nx: 1\n", false, false, "gray:"},
		{"case-variant field", strings.Replace(releases, "services", "Services", 1), false, false, "Services"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, chain, err := LoadFile(strings.NewReader(tc.in), "f.yaml")
			if tc.rules || tc.chain {
				require.NoError(t, err)
				assert.Equal(t, tc.rules, rs != nil)
				assert.Equal(t, tc.chain, chain != nil)
				if chain != nil {
					assert.Equal(t, "f.yaml", chain.Releases[0].Source)
				}
				return
			}
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.err)
		})
	}
	_, _, err := LoadFile(strings.NewReader(rules+"releases:\n  - {name: b, match: {ids: [u]}, services: {s: v}}\n"), "f.yaml")
	assert.ErrorContains(t, err, "both rules and releases")
}

// TestEveryServiceTakesTheEdgesRelease: the edge decides once; each
// service's own rules (ServiceRules, what its AppConfig flag holds) route
// on the decision alone and agree with Router.Version for every request,
// including requests several releases match.
func TestEveryServiceTakesTheEdgesRelease(t *testing.T) {
	android10 := android
	android10.Priority = 10
	atlantis20 := atlantis
	atlantis20.Priority = 20
	rs := &ReleaseSet{Releases: []Release{atlantis20, android10,
		release("staff", 1, Match{IDs: []string{"emp-1"}}, "sms", "v4")}}
	router, err := CompileReleases(rs)
	require.NoError(t, err)
	engines := map[string]*Engine{}
	for _, svc := range rs.Services() {
		e, err := Compile(rs.ServiceRules(svc))
		require.NoError(t, err, svc)
		engines[svc] = e
	}
	assert.Equal(t, []string{"email", "order", "sms"}, rs.Services())
	assert.Nil(t, rs.ServiceRules("billing"))

	want := map[string]string{ // key/device/city → release
		"u/Android/Atlantis": "android", "u/iOS/Atlantis": "atlantis", "u/Android/Paris": "android",
		"u/iOS/Paris": "", "emp-1/Android/Atlantis": "staff",
	}
	for spec, release := range want {
		p := strings.Split(spec, "/")
		ctx := &Context{Key: p[0], Attributes: map[string]string{"device": p[1], "city": p[2]}}
		got := router.Decide(ctx)
		require.Equal(t, release, got, spec)
		down := &Context{Key: p[0], Attributes: map[string]string{ReleaseAttribute: got}}
		for svc, e := range engines {
			v, _ := e.Evaluate(down)
			assert.Equal(t, router.Version(got, svc), v, "%s in %s", spec, svc)
		}
	}
	assert.Equal(t, "stable", router.Version("android", "sms"))
	assert.Equal(t, "v1.1", router.Version("android", "order"))
	assert.Equal(t, "stable", router.Version("", "order"))
}

func TestExampleReleaseFiles(t *testing.T) {
	load := func(names ...string) *Analysis {
		var sets []*ReleaseSet
		for _, n := range names {
			f, err := os.Open("../examples/gray/" + n)
			require.NoError(t, err)
			_, rs, err := LoadFile(f, n)
			f.Close()
			require.NoError(t, err, n)
			require.NotNil(t, rs, n)
			sets = append(sets, rs)
		}
		all, err := Merge(sets...)
		require.NoError(t, err)
		a, err := AnalyzeReleases(all)
		require.NoError(t, err)
		return a
	}
	kinds := func(a *Analysis) []string {
		var out []string
		for _, f := range a.Findings {
			out = append(out, f.Kind+"@"+f.Rule)
		}
		return out
	}
	assert.Equal(t, []string{"ambiguous-overlap@atlantis"}, kinds(load("android-team.yaml", "atlantis-team.yaml")))
	assert.ElementsMatch(t, []string{"shared-canary@android", "shared-canary@atlantis", "release-overlap@atlantis"},
		kinds(load("shared-downstream.yaml")))
}

func FuzzLoadFile(f *testing.F) {
	fuzzseed.Add(f, fuzzSeeds(f)...)
	for _, n := range []string{"android-team.yaml", "atlantis-team.yaml", "shared-downstream.yaml"} {
		b, err := os.ReadFile("../examples/gray/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, chain, err := LoadFile(bytes.NewReader(data), "fuzz")
		if err != nil || chain == nil {
			return
		}
		j, err := json.Marshal(chain)
		require.NoError(t, err)
		_, again, err := LoadFile(bytes.NewReader(j), "fuzz")
		require.NoError(t, err, "%s", j)
		require.Equal(t, len(chain.Releases), len(again.Releases))
		a, err := analyzeReleases(chain, fuzzBudget)
		if err != nil {
			require.ErrorIs(t, err, ErrTooComplex)
			return
		}
		b, err := analyzeReleases(chain, fuzzBudget)
		require.NoError(t, err)
		require.Equal(t, a, b, "deterministic")
	})
}

// BenchmarkDecide: the edge's decision does not allocate.
func BenchmarkDecide(b *testing.B) {
	android10 := android
	android10.Priority = 10
	atlantis20 := atlantis
	atlantis20.Priority = 20
	router, err := CompileReleases(&ReleaseSet{Releases: []Release{android10, atlantis20}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := &Context{Key: "u-42", Attributes: map[string]string{"device": "iOS", "city": "Atlantis"}}
	b.ReportAllocs()
	for b.Loop() {
		if router.Version(router.Decide(ctx), "email") != "v2.2" {
			b.Fatal("wrong release")
		}
	}
}

// TestReleaseFindingsAreBounded: releases that all overlap each other, with
// long conditions and many services (a probability: no release surely
// takes another's requests), give a report of bounded size (the
// file is at most 1 MiB; the report must not grow with its square).
func TestReleaseFindingsAreBounded(t *testing.T) {
	var rels []Release
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%032d", i)
	}
	for i := range MaxRules {
		r := Release{Name: fmt.Sprintf("r%03d", i), Priority: i, Services: map[string]string{},
			Match: Match{Any: []Match{{IDs: ids}, {Probability: ptr(0.5)}}}}
		for s := range MaxServices {
			r.Services[fmt.Sprintf("service-%02d-%s", s, strings.Repeat("x", 100))] = fmt.Sprintf("v%d", i)
		}
		rels = append(rels, r)
	}
	a, err := AnalyzeReleases(&ReleaseSet{Releases: rels})
	require.NoError(t, err)
	size, overlaps := 0, map[string]int{}
	for _, f := range a.Findings {
		size += len(f.Message)
		if f.Kind == FindingReleaseOverlap {
			overlaps[f.Rule]++
		}
	}
	for r, n := range overlaps {
		require.LessOrEqual(t, n, maxOverlapsPerRelease+1, r)
	}
	assert.Less(t, size, 8<<20, "report bytes")
}
