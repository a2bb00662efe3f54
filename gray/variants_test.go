package gray

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Unleash client specification's JSON, as much of it as the variant
// vectors use (testdata/unleash/README.md says where it comes from).
type (
	specFile struct {
		Name  string `json:"name"`
		State struct {
			Features []specFeature `json:"features"`
		} `json:"state"`
		VariantTests []struct {
			Description string      `json:"description"`
			Context     specContext `json:"context"`
			ToggleName  string      `json:"toggleName"`
			Expected    struct {
				Name    string   `json:"name"`
				Payload *Payload `json:"payload"`
				Enabled bool     `json:"enabled"`
			} `json:"expectedResult"`
		} `json:"variantTests"`
	}
	specFeature struct {
		Name       string         `json:"name"`
		Enabled    bool           `json:"enabled"`
		Strategies []specStrategy `json:"strategies"`
		Variants   []specVariant  `json:"variants"`
	}
	specStrategy struct {
		Name        string            `json:"name"`
		Parameters  map[string]string `json:"parameters"`
		Constraints []struct {
			ContextName string   `json:"contextName"`
			Operator    string   `json:"operator"`
			Values      []string `json:"values"`
		} `json:"constraints"`
		Variants []specVariant `json:"variants"`
	}
	specVariant struct {
		Name       string   `json:"name"`
		Weight     int      `json:"weight"`
		Stickiness string   `json:"stickiness"`
		Payload    *Payload `json:"payload"`
		Overrides  []struct {
			ContextName string   `json:"contextName"`
			Values      []string `json:"values"`
		} `json:"overrides"`
	}
	specContext struct {
		UserID        string            `json:"userId"`
		SessionID     string            `json:"sessionId"`
		Environment   string            `json:"environment"`
		AppName       string            `json:"appName"`
		RemoteAddress string            `json:"remoteAddress"`
		CurrentTime   string            `json:"currentTime"`
		Properties    map[string]string `json:"properties"`
	}
)

// context maps Unleash's context onto ours: userId is the key, every other
// field an attribute.
func (c specContext) context() *Context {
	ctx := &Context{Key: c.UserID, Attributes: map[string]string{}}
	if c.SessionID != "" {
		ctx.Attributes[SessionAttribute] = c.SessionID
	}
	if c.Environment != "" {
		ctx.Attributes["environment"] = c.Environment
	}
	if c.AppName != "" {
		ctx.Attributes["appName"] = c.AppName
	}
	if c.CurrentTime != "" {
		ctx.Attributes["currentTime"] = c.CurrentTime
	}
	for k, v := range c.Properties {
		ctx.Attributes[k] = v
	}
	return ctx
}

func split(group, stickiness string, vs []specVariant) *Variants {
	out := &Variants{Group: group, Stickiness: stickiness}
	for _, v := range vs {
		x := Variant{Name: v.Name, Weight: v.Weight, Payload: v.Payload}
		for _, o := range v.Overrides {
			x.Overrides = append(x.Overrides, Override{Attribute: o.ContextName, Values: o.Values})
		}
		out.Variants = append(out.Variants, x)
	}
	return out
}

// toggle is the part of an Unleash toggle the vectors exercise, modelled
// here in the test only (safepipe's rules play the toggle's part): a
// toggle is on when enabled and it has no strategy or one strategy is on
// ("default", or "flexibleRollout" with its rollout, stickiness and group,
// constraints IN only). The variants are the strategy's if it has some,
// else the toggle's, hashed by Variants.Select.
func toggle(t *testing.T, f *specFeature, ctx *Context) (variant *Variant, on bool) {
	if f == nil || !f.Enabled {
		return nil, false
	}
	var hit *specStrategy
	for i := range f.Strategies {
		s := &f.Strategies[i]
		ok := true
		for _, c := range s.Constraints {
			require.Equal(t, "IN", c.Operator, "the harness models IN constraints only")
			v, _ := attribute(ctx, c.ContextName)
			ok = ok && contains(c.Values, v)
		}
		switch s.Name {
		case "default":
		case "flexibleRollout":
			rollout, err := strconv.Atoi(s.Parameters["rollout"])
			require.NoError(t, err)
			key, has := (&Variants{Stickiness: s.Parameters["stickiness"]}).stickiness(ctx)
			ok = ok && has && int(Bucket(s.Parameters["groupId"], key, 100)) <= rollout || ok && rollout == 100
		default:
			t.Fatalf("strategy %q is not modelled", s.Name)
		}
		if ok {
			hit = s
			break
		}
	}
	if hit == nil && len(f.Strategies) > 0 {
		return nil, false
	}
	if hit != nil && len(hit.Variants) > 0 {
		v := split(hit.Parameters["groupId"], hit.Parameters["stickiness"], hit.Variants)
		require.NoError(t, v.Validate())
		x, _ := v.Select(ctx)
		return x, true
	}
	if len(f.Variants) == 0 {
		return nil, true
	}
	v := split(f.Name, f.Variants[0].Stickiness, f.Variants)
	require.NoError(t, v.Validate())
	x, _ := v.Select(ctx)
	return x, true
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestUnleashVariantVectors runs every variant vector of the specification
// files we keep: the variant (name and payload) must be Unleash's.
func TestUnleashVariantVectors(t *testing.T) {
	// The files whose variant vectors the harness below models; the
	// others' (15: segments, 17: dependent features) are counted in
	// TestUnleashSpecification's report.
	files := []string{"testdata/unleash/08-variants.json", "testdata/unleash/12-custom-stickiness.json", "testdata/unleash/16-strategy-variants.json"}
	total, passed := 0, 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var spec specFile
		require.NoError(t, json.Unmarshal(b, &spec))
		features := map[string]*specFeature{}
		for i := range spec.State.Features {
			features[spec.State.Features[i].Name] = &spec.State.Features[i]
		}
		for _, vt := range spec.VariantTests {
			total++
			ok := t.Run(fmt.Sprintf("%s/%s", spec.Name, vt.Description), func(t *testing.T) {
				v, _ := toggle(t, features[vt.ToggleName], vt.Context.context())
				if vt.Expected.Name == "disabled" {
					assert.Nil(t, v)
					assert.False(t, vt.Expected.Enabled)
					return
				}
				require.NotNil(t, v)
				assert.Equal(t, vt.Expected.Name, v.Name)
				assert.Equal(t, vt.Expected.Payload, v.Payload)
			})
			if ok {
				passed++
			}
		}
	}
	assert.Equal(t, 32, total, "the variant vectors of 08, 12 and 16")
	assert.Equal(t, total, passed)
	t.Logf("Unleash variant vectors: %d of %d pass", passed, total)
}

func TestVariantsSelect(t *testing.T) {
	ab := &Variants{Group: "checkout-ab", Variants: []Variant{
		{Name: "a", Weight: 500},
		{Name: "b", Weight: 500, Overrides: []Override{{Attribute: KeyAttribute, Values: []string{"emp-1"}}, {Attribute: "tier", Values: []string{"staff"}}}},
		{Name: "never", Weight: 0},
	}}
	require.NoError(t, ab.Validate())
	counts := map[string]int{}
	for i := range 20_000 {
		ctx := &Context{Key: fmt.Sprintf("user-%d", i)}
		v, sticky := ab.Select(ctx)
		require.True(t, sticky)
		again, _ := ab.Select(ctx)
		require.Same(t, v, again, "the same user, the same variant")
		counts[v.Name]++
	}
	assert.InDelta(t, 10_000, counts["a"], 400)
	assert.Zero(t, counts["never"], "weight 0 is only for overrides")

	for _, tc := range []struct {
		name   string
		ctx    *Context
		want   string
		sticky bool
	}{
		{"override by key", &Context{Key: "emp-1"}, "b", true},
		{"override by attribute", &Context{Key: "u", Attributes: map[string]string{"tier": "staff"}}, "b", true},
		{"no key: the session", &Context{Attributes: map[string]string{SessionAttribute: "s-1"}}, "", true},
		{"neither: random", &Context{Attributes: map[string]string{"ip": "10.0.0.1"}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, sticky := ab.Select(tc.ctx)
			require.NotNil(t, v)
			assert.Equal(t, tc.sticky, sticky)
			if tc.want != "" {
				assert.Equal(t, tc.want, v.Name)
			}
		})
	}
	// A session falls back exactly like a key of the same value.
	s, _ := ab.Select(&Context{Attributes: map[string]string{SessionAttribute: "x-42"}})
	k, _ := ab.Select(&Context{Key: "x-42"})
	assert.Same(t, k, s)

	custom := &Variants{Group: "g", Stickiness: "tenant", Variants: []Variant{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}}
	_, sticky := custom.Select(&Context{Key: "u"})
	assert.False(t, sticky, "custom stickiness without its attribute is random, not the key")
	none := &Variants{Group: "g", Variants: []Variant{{Name: "a"}}}
	v, _ := none.Select(&Context{Key: "u"})
	assert.Nil(t, v)
}

func TestVariantsValidate(t *testing.T) {
	err := (&Variants{Stickiness: "a\x00", Variants: []Variant{
		{Name: "a", Weight: -1}, {Name: "a", Weight: MaxVariantWeight + 1}, {Name: "bad name", Overrides: []Override{{}}},
	}}).Validate()
	require.Error(t, err)
	for _, want := range []string{`group ""`, `stickiness "a\x00"`, `variant "a": weight -1`, `variant "a": the name is used`,
		"weight 1000001 is outside", `variants[2]: name "bad name"`, "overrides[0]: attribute", "overrides[0]: values is empty", "add up to 0"} {
		assert.ErrorContains(t, err, want)
	}
	many := &Variants{Group: "g", Variants: make([]Variant, MaxVariants+1)}
	assert.ErrorContains(t, many.Validate(), "101 variants; a split holds 1–100")
}

func FuzzVariants(f *testing.F) {
	f.Add("g", "", "u-1", "s", 1, 1, 0)
	f.Add("group", "tenant", "", "", 0, 1000, 3)
	f.Fuzz(func(t *testing.T, group, stickiness, key, session string, wa, wb, wc int) {
		v := &Variants{Group: group, Stickiness: stickiness, Variants: []Variant{{Name: "a", Weight: wa}, {Name: "b", Weight: wb}, {Name: "c", Weight: wc}}}
		if v.Validate() != nil {
			return
		}
		ctx := &Context{Key: key, Attributes: map[string]string{SessionAttribute: session}}
		x, sticky := v.Select(ctx)
		require.NotNil(t, x)
		require.Positive(t, x.Weight, "a variant of weight 0 is never drawn")
		if sticky {
			y, _ := v.Select(ctx)
			require.Same(t, x, y)
		}
	})
}

// BenchmarkVariantsSelect: a sticky A/B choice does not allocate.
func BenchmarkVariantsSelect(b *testing.B) {
	v := &Variants{Group: "checkout-ab", Variants: []Variant{{Name: "a", Weight: 500}, {Name: "b", Weight: 500}}}
	ctx := &Context{Key: "user-42", Attributes: map[string]string{"device": "iOS"}}
	b.ReportAllocs()
	for b.Loop() {
		if x, _ := v.Select(ctx); x == nil {
			b.Fatal("no variant")
		}
	}
}
