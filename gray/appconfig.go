package gray

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// AppConfig context variables. AppConfig's rule language compares context
// values; it has no murmur3, no case folding and no randomness, so the
// application passes them (Engine.AppConfigContext computes them) and the
// rendered rules only compare:
//
//	$key                        Context.Key
//	$attr_<attribute>           an attribute, for case-sensitive conditions
//	$attr_<attribute>_lower     the attribute lower-cased, for the others
//	$bucket<N>_<group>[__<key>] Bucket(group, key, N), see BucketVar
//	$random                     a fresh number in [0, 1) per request
//
// so AppConfig routes every request as Evaluate does. Attributes live
// under "attr_" so that no attribute can stand in for the key, a bucket or
// the random number. Case-insensitive values are compared lower-cased
// (strings.ToLower), which equals EqualFold except for a few letters with
// several lower-case forms (σ/ς); keep such values case-sensitive.
//
// Variant context reaches AppConfig through the AppConfig Agent (the
// "Context" header, comma-separated key=value pairs), not through
// GetLatestConfiguration; values containing "," or "=" cannot be sent.
const (
	AppConfigKey    = "key"
	AppConfigRandom = "random"
)

var identRE = regexp.MustCompile(`[^A-Za-z0-9_]`)

// BucketVar is the AppConfig context variable that carries the bucket of a
// percentage: its group, its key attribute ("" for Context.Key) and its
// bucket count.
func BucketVar(group, key string, buckets uint32) string {
	v := "bucket" + strconv.Itoa(int(buckets)) + "_" + identRE.ReplaceAllString(group, "_")
	if key != "" {
		v += "__" + identRE.ReplaceAllString(key, "_")
	}
	return v
}

// AppConfigFlag renders the rule set as the content of an AWS AppConfig
// feature flag configuration (type AWS.AppConfig.FeatureFlags): one
// multi-variant flag whose variants are the rules in priority order, each
// carrying its target in the "variant" attribute, then the default
// variant (the stable one, flag disabled). It fails on an invalid set or a
// value AppConfig's rule language cannot quote.
func AppConfigFlag(rs *RuleSet, flag string) (map[string]any, error) {
	e, err := Compile(rs)
	if err != nil {
		return nil, err
	}
	if !regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`).MatchString(flag) {
		return nil, fmt.Errorf("gray: AppConfig flag name %q must be lower case letters, digits, '_' or '-', starting with a letter", flag)
	}
	var errs []error
	attrs := map[string]string{}
	var walkAttrs func(n *node)
	walkAttrs = func(n *node) {
		if n.kind == kAttr || (n.kind == kPct && n.name != "") {
			v := attrVar(n.name)
			if prev, ok := attrs[v]; ok && prev != n.name {
				errs = append(errs, fmt.Errorf("gray: attributes %q and %q both become the AppConfig variable $%s; rename one", prev, n.name, v))
			}
			attrs[v] = n.name
		}
		for i := range n.children {
			walkAttrs(&n.children[i])
		}
	}
	for i := range e.rules {
		walkAttrs(&e.rules[i].node)
	}
	vars := map[string]srcGroup{}
	var variants []any
	for _, r := range e.rules {
		expr, err := r.node.appConfig(vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("gray: rule %q: %w", r.rule.Name, err))
			continue
		}
		variants = append(variants, map[string]any{"name": r.rule.Name, "rule": expr, "enabled": true, "variant": r.rule.Target})
	}
	variants = append(variants, map[string]any{"name": "default", "enabled": false, "variant": e.stable})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return map[string]any{
		"version": "1",
		"flags": map[string]any{flag: map[string]any{
			"name":       flag,
			"attributes": map[string]any{"variant": map[string]any{"constraints": map[string]any{"type": "string", "required": true}}},
		}},
		"values": map[string]any{flag: map[string]any{"_variants": variants}},
	}, nil
}

// attrVar is the AppConfig context variable of an attribute.
func attrVar(name string) string { return "attr_" + identRE.ReplaceAllString(name, "_") }

func quote(s string) (string, error) {
	if strings.ContainsAny(s, "\"\\\n\r") {
		return "", fmt.Errorf("value %q contains a quote, backslash or newline, which AppConfig rules cannot express", s)
	}
	return `"` + s + `"`, nil
}

func (n *node) appConfig(vars map[string]srcGroup) (string, error) {
	join := func(op string, parts []string) string {
		if len(parts) == 1 {
			return parts[0]
		}
		return "(" + op + " " + strings.Join(parts, " ") + ")"
	}
	switch n.kind {
	case kIDs:
		var parts []string
		for _, id := range slices.Sorted(maps.Keys(n.set)) {
			q, err := quote(id)
			if err != nil {
				return "", err
			}
			parts = append(parts, fmt.Sprintf("(eq $%s %s)", AppConfigKey, q))
		}
		return join("or", parts), nil
	case kAttr:
		name := attrVar(n.name)
		var vals []string
		if n.fold {
			name += "_lower"
			seen := map[string]bool{}
			for _, v := range n.values {
				if l := strings.ToLower(v); !seen[l] {
					seen[l] = true
					vals = append(vals, l)
				}
			}
		} else {
			vals = slices.Sorted(maps.Keys(n.set))
		}
		if len(vals) == 0 {
			// "in: []" matches nothing; the flag rules language has no
			// literal false to say so, and "(or )" is no rule.
			return "", fmt.Errorf("attribute %q with in: [] (matching nothing) is not rendered as an AppConfig flag rule; remove the condition or the rule", n.name)
		}
		var parts []string
		for _, v := range vals {
			q, err := quote(v)
			if err != nil {
				return "", err
			}
			parts = append(parts, fmt.Sprintf("(eq $%s %s)", name, q))
		}
		return join("or", parts), nil
	case kPct:
		v := BucketVar(n.group, n.name, n.buckets)
		sg := srcGroup{n.name, n.group}
		if prev, ok := vars[v]; ok && prev != sg {
			return "", fmt.Errorf("percent group %q and key %q share the AppConfig variable $%s with group %q and key %q; rename one group", n.group, n.name, v, prev.group, prev.source)
		}
		vars[v] = sg
		if n.name == "" && n.from == 0 && n.to >= n.buckets {
			// The whole range takes keyless requests too, whose bucket
			// variable is 0 (AppConfigContext), as Evaluate does.
			return fmt.Sprintf("(and (gte $%s 0) (lte $%s %d))", v, v, n.to), nil
		}
		return fmt.Sprintf("(and (gt $%s %d) (lte $%s %d))", v, n.from, v, n.to), nil
	case kProb:
		return fmt.Sprintf("(lt $%s %s)", AppConfigRandom, strconv.FormatFloat(n.prob, 'f', -1, 64)), nil
	case kNot:
		inner, err := n.children[0].appConfig(vars)
		if err != nil {
			return "", err
		}
		return "(not " + inner + ")", nil
	case kSemver:
		return "", fmt.Errorf("semver conditions (attribute %q) are not rendered as AppConfig flag rules; route on them in the service with Compile", n.name)
	case kDate:
		return "", fmt.Errorf("date conditions (attribute %q) are not rendered as AppConfig flag rules; route on them in the service with Compile", n.name)
	case kNum:
		// Attributes reach AppConfig as strings (AppConfigContext); a
		// comparison of a string with a number is not something the
		// flag's rules language documents, so it is not rendered.
		return "", fmt.Errorf("number conditions (attribute %q) are not rendered as AppConfig flag rules; route on them in the service with Compile", n.name)
	default:
		op := "and"
		if n.kind == kAny {
			op = "or"
		}
		var parts []string
		for i := range n.children {
			p, err := n.children[i].appConfig(vars)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return join(op, parts), nil
	}
}

// AppConfigContext is the context an application passes to AppConfig
// (GetLatestConfiguration with the flag's context) so that the flag
// routes ctx exactly as Evaluate does: the key, the attributes (and their
// lower-cased forms), every bucket the rules use, and a random number.
func (e *Engine) AppConfigContext(ctx *Context) map[string]any {
	out := map[string]any{AppConfigKey: ctx.Key, AppConfigRandom: rand.Float64()}
	for k, v := range ctx.Attributes {
		out[attrVar(k)] = v
		out[attrVar(k)+"_lower"] = strings.ToLower(v)
	}
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == kPct {
			key := ctx.Key
			if n.name != "" {
				key = ctx.Attributes[n.name]
			}
			if key != "" {
				out[BucketVar(n.group, n.name, n.buckets)] = int(Bucket(n.group, key, n.buckets))
			} else {
				out[BucketVar(n.group, n.name, n.buckets)] = 0 // no key: only the whole range (100%) of the request key matches
			}
		}
		for i := range n.children {
			walk(&n.children[i])
		}
	}
	for i := range e.rules {
		walk(&e.rules[i].node)
	}
	return out
}
