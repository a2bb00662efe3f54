package strict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML parses exactly one document and checks what the type-directed
// decode cannot see (tags, keys, depth, alias expansion and cycles), so
// that the decode may walk the yaml.v3 tree in place, aliases followed,
// without copying it.
func parseYAML(data []byte, lim Limits) (root node, err error) {
	defer func() {
		// yaml.v3 panics on a few malformed inputs instead of returning
		// an error; a user's file must never crash the command.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("the YAML parser failed on this file: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, errors.New("the file is empty")
		}
		return nil, yamlError(err)
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == io.EOF:
	case err != nil:
		return nil, fmt.Errorf("a second YAML document that does not parse (a file holds exactly one document): %w", yamlError(err))
	default:
		return nil, fmt.Errorf("line %d: a second YAML document (a file holds exactly one document)", max(second.Line, 1))
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, errors.New("the file is empty")
		}
		n = n.Content[0]
	}
	c := &yamlChecker{lim: lim, size: map[*yaml.Node]int{}, height: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	if err := c.check(n, 1); err != nil {
		return nil, err
	}
	return resolve(n), nil
}

// yamlError drops yaml.v3's "yaml: " prefix, which says nothing to a
// reader who knows the file is YAML.
func yamlError(err error) error {
	return &SyntaxError{strings.TrimPrefix(err.Error(), "yaml: ")}
}

// ynode reads a yaml.v3 node as a node.
type ynode yaml.Node

// resolve follows aliases to the node they name (check has ruled out
// cycles).
func resolve(n *yaml.Node) *ynode {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return (*ynode)(n)
}

func (y *ynode) info() (kind, int, string, bool) {
	switch y.Kind {
	case yaml.SequenceNode:
		return kList, y.Line, "", false
	case yaml.MappingNode:
		return kObject, y.Line, "", false
	}
	if y.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return kString, y.Line, y.Value, false
	}
	switch (*yaml.Node)(y).ShortTag() {
	case "!!null":
		return kNull, y.Line, y.Value, true
	case "!!bool":
		return kBool, y.Line, strings.ToLower(y.Value), true
	case "!!int", "!!float":
		return kNumber, y.Line, y.Value, true
	}
	return kString, y.Line, y.Value, true // !!str, !!timestamp: the text as written
}

// tagged returns the explicit tag of a node ("!!binary"), or "".
func (y *ynode) tagged() string {
	if y.Style&yaml.TaggedStyle != 0 {
		return y.Tag
	}
	return ""
}

func (y *ynode) size() int {
	if y.Kind == yaml.MappingNode {
		return len(y.Content) / 2
	}
	return len(y.Content)
}

func (y *ynode) key(i int) (string, int) {
	k := y.Content[2*i]
	return k.Value, k.Line
}

func (y *ynode) item(i int) node {
	if y.Kind == yaml.MappingNode {
		return resolve(y.Content[2*i+1])
	}
	return resolve(y.Content[i])
}

// yamlChecker checks a document before it is decoded.
type yamlChecker struct {
	lim        Limits
	aliasBytes int
	size       map[*yaml.Node]int  // expanded size of anchored nodes
	height     map[*yaml.Node]int  // nesting height of anchored nodes
	busy       map[*yaml.Node]bool // anchored nodes being checked (cycle check)
}

// check rejects keys that are not plain scalars, nesting deeper than the
// limit (aliases counted where they are used), alias cycles and aliases
// that repeat more than the limit, before anything is expanded. (Tags are
// reported by the decode, with the other problems of the document.)
func (c *yamlChecker) check(n *yaml.Node, depth int) error {
	switch n.Kind {
	case yaml.AliasNode:
		t := n.Alias
		if t == nil || c.busy[t] {
			return fmt.Errorf("line %d: alias *%s refers to a value that contains it", n.Line, n.Value)
		}
		if depth+c.heightOf(t)-1 > c.lim.MaxDepth {
			return fmt.Errorf("line %d: alias *%s nests deeper than the limit of %d levels", n.Line, n.Value, c.lim.MaxDepth)
		}
		c.aliasBytes = satAdd(c.aliasBytes, c.sizeOf(t))
		if c.aliasBytes > c.lim.MaxAliasBytes {
			return fmt.Errorf("line %d: aliases repeat more than the limit of %s (alias *%s)", n.Line, Size(c.lim.MaxAliasBytes), n.Value)
		}
		return nil // the anchored value is checked where it stands
	case yaml.ScalarNode:
		return nil
	case yaml.SequenceNode, yaml.MappingNode:
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if depth > c.lim.MaxDepth {
		return fmt.Errorf("line %d: nested deeper than the limit of %d levels", n.Line, c.lim.MaxDepth)
	}
	if n.Anchor != "" {
		c.busy[n] = true
		defer delete(c.busy, n)
	}
	for i, ch := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			if ch.Kind != yaml.ScalarNode || ch.Style&yaml.TaggedStyle != 0 {
				return fmt.Errorf("line %d: a key must be a plain string", ch.Line)
			}
			continue
		}
		if err := c.check(ch, depth+1); err != nil {
			return err
		}
	}
	if n.Kind == yaml.MappingNode && len(n.Content)%2 != 0 {
		return fmt.Errorf("line %d: a key without a value", n.Line)
	}
	return nil
}

// sizeOf is a node's expanded size: scalar bytes plus one per node,
// aliases counted as what they repeat; saturating, and memoized on
// anchored nodes so that nested aliases ("billion laughs") cost linear
// time. Cycles were ruled out before a node is measured... except while
// its own anchor is being checked, where the memo's placeholder (the
// largest size) stops the recursion.
func (c *yamlChecker) sizeOf(n *yaml.Node) int {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return math.MaxInt / 2
		}
		n = n.Alias
	}
	if s, ok := c.size[n]; ok {
		return s
	}
	if n.Anchor != "" {
		c.size[n] = math.MaxInt / 2
	}
	s := 1 + len(n.Value)
	for _, ch := range n.Content {
		s = satAdd(s, c.sizeOf(ch))
	}
	if n.Anchor != "" {
		c.size[n] = s
	}
	return s
}

// heightOf is a node's nesting height, aliases followed, memoized like
// sizeOf.
func (c *yamlChecker) heightOf(n *yaml.Node) int {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return math.MaxInt / 2
		}
		n = n.Alias
	}
	if h, ok := c.height[n]; ok {
		return h
	}
	if n.Anchor != "" {
		c.height[n] = math.MaxInt / 2
	}
	h := 0
	for _, ch := range n.Content {
		h = max(h, c.heightOf(ch))
	}
	if n.Kind != yaml.ScalarNode {
		h++
	}
	if n.Anchor != "" {
		c.height[n] = h
	}
	return h
}

func satAdd(a, b int) int {
	if a > math.MaxInt/2-b {
		return math.MaxInt / 2
	}
	return a + b
}
