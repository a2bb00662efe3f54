package gray

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Context is one request as the rules see it.
type Context struct {
	// Key identifies the user (or device, tenant…) for allow-lists and
	// sticky percentages. Never an IP address.
	Key string
	// Attributes are the request's labels: city, device, channel,
	// business line. Names are case-sensitive.
	Attributes map[string]string
}

type kind uint8

const (
	kIDs kind = iota
	kAttr
	kPct
	kProb
	kAll
	kAny
	kNot
	kNum
	kDate
	kSemver
)

// node is a compiled Match.
type node struct {
	kind     kind
	set      map[string]struct{} // ids; case-sensitive attribute values
	name     string              // attribute name, or the percent key attribute
	values   []string            // case-insensitive attribute values
	fold     bool
	group    string
	buckets  uint32
	from, to uint32 // in buckets
	prob     float64
	op       string    // number: eq, lt, lte, gt, gte
	num      float64   // number: the value compared with
	at       time.Time // date: the time compared with
	ver      version   // semver: the version compared with
	children []node
}

// Engine evaluates a rule set; build it once with Compile and share it:
// Evaluate is safe for concurrent use.
type Engine struct {
	stable string
	rules  []compiledRule // by priority, then declaration order
}

type compiledRule struct {
	rule *Rule
	node node
}

// Compile validates rs and prepares it for evaluation. Rules are ordered
// by priority; rules of equal priority keep their declaration order (and
// the analysis reports them if they overlap).
func Compile(rs *RuleSet) (*Engine, error) {
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{stable: rs.stable()}
	for i := range rs.Rules {
		r := rs.Rules[i]
		e.rules = append(e.rules, compiledRule{rule: &r, node: compile(r.Match, r.Name)})
	}
	sort.SliceStable(e.rules, func(i, j int) bool { return e.rules[i].rule.Priority < e.rules[j].rule.Priority })
	return e, nil
}

func compile(m Match, rule string) node {
	switch {
	case m.IDs != nil:
		n := node{kind: kIDs, set: map[string]struct{}{}}
		for _, id := range m.IDs {
			n.set[id] = struct{}{}
		}
		return n
	case m.Attribute != nil:
		a := m.Attribute
		n := node{kind: kAttr, name: a.Name, fold: !a.CaseSensitive}
		if a.CaseSensitive {
			n.set = map[string]struct{}{}
			for _, v := range a.In {
				n.set[v] = struct{}{}
			}
		} else {
			n.values = append([]string(nil), a.In...)
		}
		return n
	case m.Percent != nil:
		p := m.Percent
		to, buckets := p.bounds()
		group := p.Group
		if group == "" {
			group = rule
		}
		return node{kind: kPct, name: p.Key, group: group, buckets: buckets, from: uint32(p.From), to: uint32(to)}
	case m.Probability != nil:
		return node{kind: kProb, prob: *m.Probability}
	case m.Not != nil:
		return node{kind: kNot, children: []node{compile(*m.Not, rule)}}
	case m.Number != nil:
		return node{kind: kNum, name: m.Number.Name, op: m.Number.Op, num: m.Number.Value}
	case m.Semver != nil:
		v, _ := parseVersion(m.Semver.Value) // validated
		return node{kind: kSemver, name: m.Semver.Name, op: m.Semver.Op, ver: v}
	case m.Date != nil:
		t, _ := time.Parse(time.RFC3339, m.Date.Value) // validated
		return node{kind: kDate, name: m.Date.Name, op: m.Date.Op, at: t}
	case m.All != nil:
		n := node{kind: kAll}
		for _, c := range m.All {
			n.children = append(n.children, compile(c, rule))
		}
		return n
	default:
		n := node{kind: kAny}
		for _, c := range m.Any {
			n.children = append(n.children, compile(c, rule))
		}
		return n
	}
}

// Evaluate routes one request: the variant of the first rule (by
// priority) that matches, and that rule; or the stable variant and nil.
// It does not allocate.
func (e *Engine) Evaluate(ctx *Context) (variant string, rule *Rule) {
	for i := range e.rules {
		if e.rules[i].node.match(ctx) {
			return e.rules[i].rule.Target, e.rules[i].rule
		}
	}
	return e.stable, nil
}

func (n *node) match(ctx *Context) bool {
	switch n.kind {
	case kIDs:
		_, ok := n.set[ctx.Key]
		return ok
	case kAttr:
		v, ok := ctx.Attributes[n.name]
		if !ok {
			return false
		}
		if !n.fold {
			_, ok := n.set[v]
			return ok
		}
		for _, w := range n.values {
			if strings.EqualFold(v, w) {
				return true
			}
		}
		return false
	case kPct:
		key := ctx.Key
		if n.name != "" {
			key = ctx.Attributes[n.name]
		}
		if key == "" {
			// A sticky slice needs a key. The whole range (100%) of the
			// request key takes keyless requests too, as Unleash's default
			// stickiness does (it falls back to a random value, which the
			// whole range holds); a slice keyed on an attribute does not,
			// as Unleash's explicit stickiness returns false without its
			// value. Below 100% a keyless request is in no slice: the
			// stable side, deterministically.
			return n.name == "" && n.from == 0 && n.to >= n.buckets
		}
		b := Bucket(n.group, key, n.buckets)
		return n.from < b && b <= n.to
	case kProb:
		return n.prob > 0 && rand.Float64() < n.prob
	case kNot:
		return !n.children[0].match(ctx)
	case kNum:
		v, ok := ctx.Attributes[n.name]
		return ok && n.compare(v)
	case kDate:
		v, ok := ctx.Attributes[n.name]
		return ok && n.when(v)
	case kSemver:
		v, ok := ctx.Attributes[n.name]
		return ok && n.versus(v)
	case kAll:
		for i := range n.children {
			if !n.children[i].match(ctx) {
				return false
			}
		}
		return true
	default:
		for i := range n.children {
			if n.children[i].match(ctx) {
				return true
			}
		}
		return false
	}
}

// compare reads v as a decimal number and compares it with the node's
// value; a value that is not a finite number never matches.
func (n *node) compare(v string) bool {
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	switch n.op {
	case "eq":
		return x == n.num
	case "lt":
		return x < n.num
	case "lte":
		return x <= n.num
	case "gt":
		return x > n.num
	case "gte":
		return x >= n.num
	}
	return false
}

// when reads v as an RFC 3339 time and compares it with the node's time
// (strictly before or after); a value that is not such a time never
// matches.
func (n *node) when(v string) bool {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return false
	}
	// time.Time compares whole instants, any year (UnixNano would
	// overflow outside 1678–2262).
	if n.op == "before" {
		return t.Before(n.at)
	}
	return t.After(n.at)
}

// versus reads v as a semantic version and compares it with the node's by
// precedence; a value that is not a version never matches.
func (n *node) versus(v string) bool {
	x, ok := parseVersion(v)
	if !ok {
		return false
	}
	c := compareVersions(x, n.ver)
	switch n.op {
	case "eq":
		return c == 0
	case "lt":
		return c < 0
	case "lte":
		return c <= 0
	case "gt":
		return c > 0
	case "gte":
		return c >= 0
	}
	return false
}
