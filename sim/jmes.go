package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// jmes is the subset of JMESPath (https://jmespath.org/specification.html)
// that the aws stand-in needs to answer --query the way the AWS CLI does:
// fields, sub-expressions, indexes, flatten ([]), wildcard projections
// ([*]), filters ([?a == 'x'], [?a != 'x'], [?expr]), multi-select lists
// ([a, b]) and pipes. Projections carry the right-hand side over each
// element and drop nulls; a pipe ends them.
type jmesNode struct {
	kind  string // field, index, flatten, wildcard, filter, multi, pipe, sub, literal, cmp, current
	name  string
	index int
	op    string
	kids  []*jmesNode
}

type jmesParser struct {
	s     string
	i     int
	depth int
}

const maxJmesLength = 4096

func parseJmes(s string) (*jmesNode, error) {
	if len(s) > maxJmesLength {
		return nil, fmt.Errorf("query longer than %d characters", maxJmesLength)
	}
	p := &jmesParser{s: s}
	n, err := p.pipe()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("query %q: unexpected %q", s, p.s[p.i:])
	}
	return n, nil
}

func (p *jmesParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *jmesParser) peek(t string) bool {
	p.space()
	return strings.HasPrefix(p.s[p.i:], t)
}

func (p *jmesParser) pipe() (*jmesNode, error) {
	l, err := p.cmp()
	if err != nil {
		return nil, err
	}
	for p.peek("|") && !p.peek("||") {
		p.i++
		r, err := p.cmp()
		if err != nil {
			return nil, err
		}
		l = &jmesNode{kind: "pipe", kids: []*jmesNode{l, r}}
	}
	return l, nil
}

func (p *jmesParser) cmp() (*jmesNode, error) {
	l, err := p.chain()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!="} {
		if p.peek(op) {
			p.i += 2
			r, err := p.chain()
			if err != nil {
				return nil, err
			}
			return &jmesNode{kind: "cmp", op: op, kids: []*jmesNode{l, r}}, nil
		}
	}
	return l, nil
}

// chain parses a primary followed by .field and [..] suffixes.
func (p *jmesParser) chain() (*jmesNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 32 {
		return nil, fmt.Errorf("query nested too deeply")
	}
	var n *jmesNode
	p.space()
	switch {
	case p.peek("'"):
		end := strings.IndexByte(p.s[p.i+1:], '\'')
		if end < 0 {
			return nil, fmt.Errorf("unterminated literal")
		}
		n = &jmesNode{kind: "literal", name: p.s[p.i+1 : p.i+1+end]}
		p.i += end + 2
		return n, nil
	case p.peek("`"):
		end := strings.IndexByte(p.s[p.i+1:], '`')
		if end < 0 {
			return nil, fmt.Errorf("unterminated literal")
		}
		n = &jmesNode{kind: "literal", name: strings.Trim(p.s[p.i+1:p.i+1+end], `"`)}
		p.i += end + 2
		return n, nil
	case p.peek("@"):
		p.i++
		n = &jmesNode{kind: "current"}
	case p.peek("["):
		n = &jmesNode{kind: "current"}
	default:
		name := p.ident()
		if name == "" {
			return nil, fmt.Errorf("query %q: expected a field at %d", p.s, p.i)
		}
		n = &jmesNode{kind: "field", name: name}
	}
	for {
		switch {
		case p.peek("."):
			p.i++
			if p.peek("[") { // multi-select list after a dot
				m, err := p.bracket(&jmesNode{kind: "current"})
				if err != nil {
					return nil, err
				}
				n = &jmesNode{kind: "sub", kids: []*jmesNode{n, m}}
				continue
			}
			name := p.ident()
			if name == "" {
				return nil, fmt.Errorf("query %q: expected a field after . at %d", p.s, p.i)
			}
			n = &jmesNode{kind: "sub", kids: []*jmesNode{n, {kind: "field", name: name}}}
		case p.peek("["):
			var err error
			if n, err = p.bracket(n); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
	}
}

func (p *jmesParser) ident() string {
	p.space()
	start := p.i
	for p.i < len(p.s) && (isWordByte(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

// bracket parses [N], [], [*], [?expr] or [a, b] applied to left.
func (p *jmesParser) bracket(left *jmesNode) (*jmesNode, error) {
	p.i++ // [
	p.space()
	switch {
	case p.peek("]"):
		p.i++
		return &jmesNode{kind: "flatten", kids: []*jmesNode{left}}, nil
	case p.peek("*"):
		p.i++
		if !p.peek("]") {
			return nil, fmt.Errorf("expected ] after *")
		}
		p.i++
		return &jmesNode{kind: "wildcard", kids: []*jmesNode{left}}, nil
	case p.peek("?"):
		p.i++
		cond, err := p.cmp()
		if err != nil {
			return nil, err
		}
		if !p.peek("]") {
			return nil, fmt.Errorf("expected ] after a filter")
		}
		p.i++
		return &jmesNode{kind: "filter", kids: []*jmesNode{left, cond}}, nil
	}
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] >= '0' && p.s[p.i] <= '9') {
		p.i++
	}
	if p.i > start {
		n, err := strconv.Atoi(p.s[start:p.i])
		if err != nil || !p.peek("]") {
			return nil, fmt.Errorf("bad index")
		}
		p.i++
		return &jmesNode{kind: "index", index: n, kids: []*jmesNode{left}}, nil
	}
	m := &jmesNode{kind: "multi", kids: []*jmesNode{left}}
	for {
		e, err := p.pipe()
		if err != nil {
			return nil, err
		}
		m.kids = append(m.kids, e)
		if p.peek(",") {
			p.i++
			continue
		}
		if p.peek("]") {
			p.i++
			return m, nil
		}
		return nil, fmt.Errorf("expected , or ] in a multi-select list")
	}
}

// jmesProjection marks a projected list: the rest of a chain applies to
// each element.
type jmesProjection []any

func evalJmes(n *jmesNode, v any) any {
	out := evalJ(n, v)
	if p, ok := out.(jmesProjection); ok {
		return []any(p)
	}
	return out
}

func evalJ(n *jmesNode, v any) any {
	switch n.kind {
	case "current":
		return v
	case "literal":
		return n.name
	case "field":
		if p, ok := v.(jmesProjection); ok {
			return project(p, func(e any) any { return evalJ(n, e) })
		}
		m, _ := v.(map[string]any)
		return m[n.name]
	case "sub":
		l := evalJ(n.kids[0], v)
		if p, ok := l.(jmesProjection); ok {
			return project(p, func(e any) any { return evalJmes(n.kids[1], e) })
		}
		if l == nil {
			return nil
		}
		return evalJ(n.kids[1], l)
	case "pipe":
		return evalJ(n.kids[1], evalJmes(n.kids[0], v))
	case "index":
		l := evalJ(n.kids[0], v)
		if p, ok := l.(jmesProjection); ok {
			return project(p, func(e any) any { return indexOf(e, n.index) })
		}
		return indexOf(l, n.index)
	case "flatten":
		l := evalJ(n.kids[0], v)
		list := toList(l)
		var out jmesProjection = []any{}
		for _, e := range list {
			if sub, ok := e.([]any); ok {
				out = append(out, sub...)
			} else if e != nil {
				out = append(out, e)
			}
		}
		return out
	case "wildcard":
		return jmesProjection(toList(evalJ(n.kids[0], v)))
	case "filter":
		list := toList(evalJ(n.kids[0], v))
		var out jmesProjection = []any{}
		for _, e := range list {
			if truthy(evalJmes(n.kids[1], e)) {
				out = append(out, e)
			}
		}
		return out
	case "multi":
		l := evalJ(n.kids[0], v)
		sel := func(e any) any {
			out := []any{}
			for _, k := range n.kids[1:] {
				out = append(out, evalJmes(k, e))
			}
			return out
		}
		if p, ok := l.(jmesProjection); ok {
			return project(p, sel)
		}
		if l == nil {
			return nil
		}
		return sel(l)
	case "cmp":
		a, b := evalJmes(n.kids[0], v), evalJmes(n.kids[1], v)
		eq := fmt.Sprint(a) == fmt.Sprint(b) && (a == nil) == (b == nil)
		if n.op == "==" {
			return eq
		}
		return !eq
	}
	return nil
}

func project(p jmesProjection, f func(any) any) jmesProjection {
	out := jmesProjection{}
	for _, e := range p {
		if r := f(e); r != nil {
			out = append(out, r)
		}
	}
	return out
}

func toList(v any) []any {
	switch x := v.(type) {
	case jmesProjection:
		return []any(x)
	case []any:
		return x
	}
	return nil
}

func indexOf(v any, i int) any {
	l := toList(v)
	if i < 0 {
		i += len(l)
	}
	if i < 0 || i >= len(l) {
		return nil
	}
	return l[i]
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case jmesProjection:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}
