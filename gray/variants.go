package gray

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Unleash's variant hashing, as its client specification defines it
// (github.com/Unleash/client-specification, specifications/08-variants,
// 12-custom-stickiness and 16-strategy-variants; the vectors we run are in
// testdata/unleash): a variant's position is
// murmur3_32(group + ":" + stickiness value, seed VariantSeed) % total
// weight + 1, and the variant is the first whose running sum of weights
// reaches it.
const (
	// VariantSeed is the murmur3 seed of variant hashing (percentages use
	// seed 0).
	VariantSeed = 86028157
	// KeyAttribute is the name that stands for Context.Key (Unleash's
	// userId) in Variants.Stickiness and Override.Attribute.
	KeyAttribute = "userId"
	// SessionAttribute is the attribute default stickiness falls back to
	// when a request has no key (Unleash's sessionId).
	SessionAttribute = "sessionId"
)

// Limits of a Variants.
const (
	// MaxVariants is the most variants one split may hold.
	MaxVariants = 100
	// MaxVariantWeight bounds one weight (Unleash's server gives weights
	// that sum to 1000), so that the total fits any integer.
	MaxVariantWeight = 1_000_000
	// MaxOverrideValues bounds the values of every override of a split,
	// together.
	MaxOverrideValues = 10_000
)

// Variants splits requests among weighted variants, the way Unleash's
// SDKs do, so that a user gets the same variant from safepipe as from
// Unleash: an A/B test inside the slice a rule or a toggle already took.
type Variants struct {
	// Group salts the hash: Unleash uses the toggle's name for a toggle's
	// variants and the strategy's groupId for a strategy's. Required.
	Group string `json:"group"`
	// Stickiness names what keeps a user on one variant: "" or "default"
	// for Context.Key, else the SessionAttribute attribute, else nothing
	// (a random variant on every request); or an attribute name
	// (KeyAttribute for Context.Key), with a random variant when the
	// request lacks it. Unleash's default also falls back to remoteAddress
	// before random; safepipe never routes by IP address, so a request
	// with neither key nor session gets a random variant from safepipe
	// and an IP-sticky one from Unleash. Default: "".
	Stickiness string `json:"stickiness,omitempty"`
	// Variants, in order: the order decides which variant a position
	// falls in. Required, at most MaxVariants, total weight above 0.
	Variants []Variant `json:"variants"`
}

// Variant is one variant of a split.
type Variant struct {
	// Name is unique in the split. Required.
	Name string `json:"name"`
	// Weight is the variant's share of the split's total weight
	// (0–MaxVariantWeight; 0: only an override chooses it). Default: 0.
	Weight int `json:"weight"`
	// Payload is data the variant carries. Default: none.
	Payload *Payload `json:"payload,omitempty"`
	// Overrides choose this variant for requests whose attribute has one of
	// the values, before any hashing; the first variant (in order) with a
	// matching override wins. Default: none.
	Overrides []Override `json:"overrides,omitempty"`
}

// Payload is a variant's data, as Unleash carries it.
type Payload struct {
	// Type is Unleash's payload type ("string", "json", "csv", "number").
	Type string `json:"type"`
	// Value is the data, as text.
	Value string `json:"value"`
}

// Override chooses a variant by attribute value.
type Override struct {
	// Attribute is the request attribute (KeyAttribute for Context.Key).
	// Required.
	Attribute string `json:"attribute"`
	// Values are the values that choose the variant, compared exactly.
	// Required.
	Values []string `json:"values"`
}

// Validate reports every problem at once, naming the variant and the
// field.
func (v *Variants) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("gray: variants: "+format, args...)) }
	if v.Group == "" || len(v.Group) > 256 || strings.Contains(v.Group, "\x00") {
		add("group %q must be 1–256 bytes without NUL", v.Group)
	}
	if len(v.Stickiness) > 128 || strings.Contains(v.Stickiness, "\x00") {
		add("stickiness %q must be at most 128 bytes without NUL", v.Stickiness)
	}
	if len(v.Variants) == 0 || len(v.Variants) > MaxVariants {
		add("%d variants; a split holds 1–%d", len(v.Variants), MaxVariants)
		if len(v.Variants) > MaxVariants {
			return errors.Join(errs...)
		}
	}
	names := map[string]bool{}
	total, values := 0, 0
	for i, x := range v.Variants {
		where := fmt.Sprintf("variant %q", x.Name)
		if !nameRE.MatchString(x.Name) {
			where = fmt.Sprintf("variants[%d]", i)
			add("%s: name %q must match %s", where, x.Name, nameRE)
		}
		if names[x.Name] {
			add("%s: the name is used by another variant", where)
		}
		names[x.Name] = true
		if x.Weight < 0 || x.Weight > MaxVariantWeight {
			add("%s: weight %d is outside 0–%d", where, x.Weight, MaxVariantWeight)
		} else {
			total += x.Weight
		}
		for j, o := range x.Overrides {
			if o.Attribute == "" || strings.Contains(o.Attribute, "\x00") {
				add("%s: overrides[%d]: attribute %q is empty or has a NUL", where, j, o.Attribute)
			}
			if len(o.Values) == 0 {
				add("%s: overrides[%d]: values is empty", where, j)
			}
			values += len(o.Values)
		}
	}
	if total == 0 && len(v.Variants) > 0 {
		add("the weights add up to 0; give at least one variant a weight")
	}
	if values > MaxOverrideValues {
		add("the overrides list %d values, over the limit of %d", values, MaxOverrideValues)
	}
	return errors.Join(errs...)
}

// Select chooses ctx's variant: an override's, else the variant at the
// request's hashed position. sticky is false when the request had no
// stickiness value and the variant was drawn at random. It returns nil
// when the weights add up to 0 (Unleash's "disabled" variant). It does not
// allocate; validate the split first (Validate).
func (v *Variants) Select(ctx *Context) (variant *Variant, sticky bool) {
	total := 0
	for i := range v.Variants {
		total += v.Variants[i].Weight
	}
	if total <= 0 {
		return nil, false
	}
	for i := range v.Variants {
		for _, o := range v.Variants[i].Overrides {
			value, ok := attribute(ctx, o.Attribute)
			if !ok {
				continue
			}
			for _, w := range o.Values {
				if w == value {
					return &v.Variants[i], true
				}
			}
		}
	}
	var target int
	if key, ok := v.stickiness(ctx); ok {
		target = int(murmur3Seed(VariantSeed, v.Group, ":", key)%uint32(total)) + 1
		sticky = true
	} else {
		target = rand.IntN(total) + 1
	}
	sum := 0
	for i := range v.Variants {
		if v.Variants[i].Weight == 0 {
			continue
		}
		sum += v.Variants[i].Weight
		if sum >= target {
			return &v.Variants[i], sticky
		}
	}
	return nil, false // not reached: target ≤ total
}

// stickiness returns the request's stickiness value, if it has one.
func (v *Variants) stickiness(ctx *Context) (string, bool) {
	if v.Stickiness != "" && v.Stickiness != "default" {
		return attribute(ctx, v.Stickiness)
	}
	if ctx.Key != "" {
		return ctx.Key, true
	}
	return attribute(ctx, SessionAttribute)
}

// attribute resolves a name as Unleash resolves a context field: the key
// for KeyAttribute, else the attribute; an empty value counts as absent.
func attribute(ctx *Context, name string) (string, bool) {
	if name == KeyAttribute {
		return ctx.Key, ctx.Key != ""
	}
	value := ctx.Attributes[name]
	return value, value != ""
}
