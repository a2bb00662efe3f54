package gray

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/internal/strict"
)

// RuleSet is a gray-release configuration: the stable variant and the
// rules that send slices of traffic to other variants.
type RuleSet struct {
	// Stable is the variant of traffic no rule matches. Default: "stable".
	Stable string `json:"stable,omitempty"`
	// Rules, in any order; Priority orders them (lower first).
	Rules []Rule `json:"rules"`
}

// Rule sends the requests its Match accepts to Target.
type Rule struct {
	// Name is unique in the set. Required.
	Name string `json:"name"`
	// Target is the canary variant (or version). Required; one rule per
	// variant.
	Target string `json:"target"`
	// Priority orders rules: the lowest number is evaluated first and a
	// request is routed by the first rule that matches. Default: 0.
	Priority int `json:"priority"`
	// Match says which requests the rule takes. Required.
	Match Match `json:"match"`
}

// Match is one condition; exactly one field is set. Conditions combine
// with All (and) and Any (or).
type Match struct {
	// IDs is an allow-list of request keys (Context.Key, e.g. user IDs),
	// compared exactly.
	IDs []string `json:"ids,omitempty"`
	// Attribute matches an attribute against a set of values.
	Attribute *Attribute `json:"attribute,omitempty"`
	// Percent matches a stable slice of keys.
	Percent *Percent `json:"percent,omitempty"`
	// Probability matches each request with this probability (0–1). It is
	// not sticky: the same user may get a different variant on every
	// request. Use it only for stateless, idempotent traffic where mixing
	// variants per user is harmless (never when V2 writes data V1 reads).
	Probability *float64 `json:"probability,omitempty"`
	// All matches when every condition matches.
	All []Match `json:"all,omitempty"`
	// Any matches when one condition matches.
	Any []Match `json:"any,omitempty"`
	// Not matches when its condition does not (Unleash's inverted
	// constraint, AppConfig's "not").
	Not *Match `json:"not,omitempty"`
	// Number compares an attribute read as a number (Unleash's NUM_EQ,
	// NUM_GT, NUM_GTE, NUM_LT, NUM_LTE).
	Number *Number `json:"number,omitempty"`
	// Date compares an attribute read as an RFC 3339 time (Unleash's
	// DATE_BEFORE, DATE_AFTER on currentTime).
	Date *Date `json:"date,omitempty"`
	// Semver compares an attribute read as a semantic version (Unleash's
	// SEMVER_EQ, SEMVER_GT, SEMVER_LT, and gte/lte).
	Semver *Semver `json:"semver,omitempty"`
}

// Semver compares a request attribute, read as a semantic version
// (semver.org 2.0.0, strictly: no "v" prefix; build metadata ignored),
// with a version by precedence. An attribute that is absent or not a
// version never matches.
type Semver struct {
	// Name is the attribute (an app version). Required.
	Name string `json:"name"`
	// Op is eq, lt, lte, gt or gte. Required.
	Op string `json:"op"`
	// Value is the version ("2.0.0-rc.1"). Required.
	Value string `json:"value"`
}

// Date compares a request attribute, read as an RFC 3339 time, with a
// time. An attribute that is absent or not such a time never matches.
type Date struct {
	// Name is the attribute (Unleash: "currentTime"). Required.
	Name string `json:"name"`
	// Op is before or after (strictly). Required.
	Op string `json:"op"`
	// Value is the time, RFC 3339 ("2026-12-24T00:00:00Z"). Required.
	Value string `json:"value"`
}

// Number compares a request attribute, read as a decimal number, with a
// value. An attribute that is absent or not a number never matches (as
// Unleash's numeric operators read it).
type Number struct {
	// Name is the attribute. Required.
	Name string `json:"name"`
	// Op is eq, lt, lte, gt or gte. Required.
	Op string `json:"op"`
	// Value is the number compared with. Required (0 is a value).
	Value float64 `json:"value"`
}

// numberOps are Number.Op's values.
var numberOps = []string{"eq", "lt", "lte", "gt", "gte"}

// Attribute matches a request attribute (city, device, channel, business
// line, user agent class…) against a set of values.
type Attribute struct {
	// Name is the attribute, case-sensitive. Required.
	Name string `json:"name"`
	// In are the accepted values. Required.
	In []string `json:"in"`
	// CaseSensitive compares values exactly. Default: false (values are
	// compared case-insensitively, Unicode simple folding: "iOS" = "ios").
	CaseSensitive bool `json:"caseSensitive,omitempty"`
}

// Percent is a stable slice of keys: a key's bucket is Bucket(Group, key,
// N) — murmur3_32(Group + ":" + key, seed 0) % 100 + 1 for Percent, its
// per-mille refinement for PerMille — and the rule matches buckets
// From < bucket ≤ To. With From 0 and Percent p this is exactly Unleash's
// gradual rollout with stickiness, so a user keeps their bucket across
// processes, restarts and languages.
type Percent struct {
	// Percent is the upper bound To, in percent (0–100). Set Percent or
	// PerMille.
	Percent *int `json:"percent,omitempty"`
	// PerMille is the upper bound To, in per-mille (0–1000), for
	// sub-percent rollouts (3‰).
	PerMille *int `json:"perMille,omitempty"`
	// From is the exclusive lower bound, in the same unit, so that two
	// rules can take disjoint slices of one group. Default: 0.
	From int `json:"from,omitempty"`
	// Group salts the hash: rules with the same group slice the same
	// ordering of users. Default: the rule's name.
	Group string `json:"group,omitempty"`
	// Key is the attribute holding the stickiness key. Default: "" (the
	// request key, Context.Key).
	Key string `json:"key,omitempty"`
}

// DefaultStable is the default stable variant.
const DefaultStable = "stable"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Limits of a rule file (see the package documentation).
const (
	// MaxRuleBytes is the largest rule file read: 1 MiB, the size of the
	// AppConfig hosted configuration a rule set renders to
	// (AWS::AppConfig::HostedConfigurationVersion: "Configurations must be
	// 1 MB or smaller.",
	// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-appconfig-hostedconfigurationversion.html).
	MaxRuleBytes = 1 << 20
	// MaxRuleDepth is the deepest nesting of lists and objects in a rule
	// file (about 30 levels of all/any).
	MaxRuleDepth = 64
	// MaxRules is the most rules a set may hold: a canary variant belongs
	// to one rule, and no gray release runs hundreds of canaries of one
	// feature; the analysis compares rules of equal priority pairwise.
	MaxRules = 256
)

var ruleLimits = strict.Limits{MaxBytes: MaxRuleBytes, MaxDepth: MaxRuleDepth, MaxAliasBytes: MaxRuleBytes}

// Load reads a rule set in YAML or JSON and validates it, reading at most
// MaxRuleBytes. It is strict: one document and nothing after it; no
// duplicate keys; field names exactly as documented (a misspelt or
// differently cased field is an error, so a condition never goes missing
// silently); values of the field's type, and a YAML scalar read into a
// text field is the text as written (a rule named 2026-01-01 or 007 keeps
// that name); no YAML tags or merge keys; aliases may repeat at most
// MaxRuleBytes. The error reports every problem, one per line.
func Load(r io.Reader) (*RuleSet, error) {
	b, err := strict.ReadAll(r, MaxRuleBytes)
	if err != nil {
		return nil, fmt.Errorf("gray: %w", err)
	}
	var rs RuleSet
	if err := strict.YAML(b, &rs, ruleLimits); err != nil {
		var se *strict.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("gray: not YAML or JSON: %w", err)
		}
		return nil, eachLine("gray: ", err)
	}
	if err := rs.Validate(); err != nil {
		return nil, eachLine("gray: ", err)
	}
	return &rs, nil
}

// eachLine starts every line of a joined error with prefix (once).
func eachLine(prefix string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimPrefix(l, prefix)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Validate reports every problem at once, naming the rule and the field.
func (rs *RuleSet) Validate() error {
	var errs []error
	if len(rs.Rules) == 0 {
		errs = append(errs, errors.New("gray: rules: the set has no rules"))
	}
	if len(rs.Rules) > MaxRules {
		return fmt.Errorf("gray: rules: %d rules, over the limit of %d", len(rs.Rules), MaxRules)
	}
	names := map[string]bool{}
	for i, r := range rs.Rules {
		where := fmt.Sprintf("gray: rule %q", r.Name)
		if r.Name == "" {
			where = fmt.Sprintf("gray: rules[%d]", i)
		}
		if !nameRE.MatchString(r.Name) {
			errs = append(errs, fmt.Errorf("%s: name %q must match %s", where, r.Name, nameRE))
		}
		if names[r.Name] {
			errs = append(errs, fmt.Errorf("%s: the name is used by another rule", where))
		}
		names[r.Name] = true
		if r.Target == "" {
			errs = append(errs, fmt.Errorf("%s: target is empty", where))
		}
		if r.Target != "" && r.Target == rs.stable() {
			errs = append(errs, fmt.Errorf("%s: target %q is the stable variant; unmatched traffic already goes there", where, r.Target))
		}
		errs = append(errs, r.Match.validate(where+": match", r.Name, 0))
	}
	return errors.Join(errs...)
}

func (rs *RuleSet) stable() string {
	if rs.Stable == "" {
		return DefaultStable
	}
	return rs.Stable
}

func (m *Match) validate(field, rule string, depth int) error {
	// A Match built in Go can nest without end (a Not that points back at
	// its own Match); Load's documents cannot (MaxRuleDepth).
	if depth > MaxRuleDepth {
		return fmt.Errorf("%s: nested more than %d deep (a match that contains itself?)", field, MaxRuleDepth)
	}
	var errs []error
	set := 0
	// The analysis stands for "any other value" and "absent" with strings
	// that start with a NUL byte; a value with a NUL could pose as them
	// (an allow-listed "\x00other" made every later rule look shadowed).
	nul := func(what, v string) {
		if strings.Contains(v, "\x00") {
			errs = append(errs, fmt.Errorf("%s.%s contains a NUL byte", field, what))
		}
	}
	nuls := func(what string, vals []string) {
		for i, v := range vals {
			nul(fmt.Sprintf("%s[%d]", what, i), v)
		}
	}
	if m.IDs != nil {
		set++
		if len(m.IDs) == 0 {
			errs = append(errs, fmt.Errorf("%s.ids is empty", field))
		}
		nuls("ids", m.IDs)
	}
	if a := m.Attribute; a != nil {
		set++
		if a.Name == "" {
			errs = append(errs, fmt.Errorf("%s.attribute.name is empty", field))
		}
		if a.In == nil {
			// An empty list is a value: it matches nothing, as Unleash's
			// IN with no values reads (the analysis reports the rule).
			errs = append(errs, fmt.Errorf("%s.attribute.in is missing", field))
		}
		nul("attribute.name", a.Name)
		nuls("attribute.in", a.In)
	}
	if p := m.Percent; p != nil {
		set++
		switch {
		case (p.Percent == nil) == (p.PerMille == nil):
			errs = append(errs, fmt.Errorf("%s.percent: set exactly one of percent and perMille", field))
		case p.Percent != nil && (*p.Percent < 0 || *p.Percent > 100):
			errs = append(errs, fmt.Errorf("%s.percent.percent is %d; it must be 0–100", field, *p.Percent))
		case p.PerMille != nil && (*p.PerMille < 0 || *p.PerMille > 1000):
			errs = append(errs, fmt.Errorf("%s.percent.perMille is %d; it must be 0–1000", field, *p.PerMille))
		}
		if to, _ := p.bounds(); p.From < 0 || (to >= 0 && p.From > to) {
			errs = append(errs, fmt.Errorf("%s.percent.from is %d; it must be between 0 and the upper bound %d", field, p.From, to))
		}
		nul("percent.group", p.Group)
		nul("percent.key", p.Key)
	}
	if pr := m.Probability; pr != nil {
		set++
		if !(*pr >= 0 && *pr <= 1) {
			errs = append(errs, fmt.Errorf("%s.probability is %v; it must be 0–1", field, *pr))
		}
	}
	if m.All != nil {
		set++
		if len(m.All) == 0 {
			errs = append(errs, fmt.Errorf("%s.all is empty", field))
		}
		for i := range m.All {
			errs = append(errs, m.All[i].validate(fmt.Sprintf("%s.all[%d]", field, i), rule, depth+1))
		}
	}
	if m.Any != nil {
		set++
		if len(m.Any) == 0 {
			errs = append(errs, fmt.Errorf("%s.any is empty", field))
		}
		for i := range m.Any {
			errs = append(errs, m.Any[i].validate(fmt.Sprintf("%s.any[%d]", field, i), rule, depth+1))
		}
	}
	if m.Not != nil {
		set++
		errs = append(errs, m.Not.validate(field+".not", rule, depth+1))
	}
	// A comparison: an attribute, an operator of ops, a value ok says is
	// well formed (bad describes it).
	compare := func(what, name, op string, ops []string, ok bool, bad string) {
		set++
		if name == "" {
			errs = append(errs, fmt.Errorf("%s.%s.name is empty", field, what))
		}
		nul(what+".name", name)
		if !slices.Contains(ops, op) {
			errs = append(errs, fmt.Errorf("%s.%s.op is %q; it must be one of %s", field, what, op, strings.Join(ops, ", ")))
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s.%s.value %s", field, what, bad))
		}
	}
	if n := m.Number; n != nil {
		compare("number", n.Name, n.Op, numberOps, !math.IsNaN(n.Value) && !math.IsInf(n.Value, 0), fmt.Sprintf("is %v; it must be a finite number", n.Value))
	}
	if d := m.Date; d != nil {
		_, err := time.Parse(time.RFC3339, d.Value)
		compare("date", d.Name, d.Op, []string{"before", "after"}, err == nil, fmt.Sprintf("%q is not an RFC 3339 time", d.Value))
	}
	if v := m.Semver; v != nil {
		_, ok := parseVersion(v.Value)
		compare("semver", v.Name, v.Op, numberOps, ok, fmt.Sprintf("%q is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])", v.Value))
	}
	if set != 1 {
		errs = append(errs, fmt.Errorf("%s: set exactly one of ids, attribute, percent, probability, all, any, not, number, date, semver (got %d)", field, set))
	}
	return errors.Join(errs...)
}

// bounds returns the upper bound in the percent's own unit and the
// number of buckets (100 or 1000); -1 when unset.
func (p *Percent) bounds() (to int, buckets uint32) {
	switch {
	case p.Percent != nil:
		return *p.Percent, 100
	case p.PerMille != nil:
		return *p.PerMille, 1000
	}
	return -1, 0
}
