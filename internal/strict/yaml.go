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

// parseYAML parses exactly one document into a value tree, bounding
// depth and alias expansion before anything is expanded.
func parseYAML(data []byte, lim Limits) (root *value, err error) {
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
	c := &yamlConverter{lim: lim, done: map[*yaml.Node]*value{}, size: map[*yaml.Node]int{}, height: map[*yaml.Node]int{}, busy: map[*yaml.Node]bool{}}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, errors.New("the file is empty")
		}
		n = n.Content[0]
	}
	return c.convert(n, 1)
}

// yamlError drops yaml.v3's "yaml: " prefix, which says nothing to a
// reader who knows the file is YAML.
func yamlError(err error) error {
	return &SyntaxError{strings.TrimPrefix(err.Error(), "yaml: ")}
}

type yamlConverter struct {
	lim        Limits
	aliasBytes int
	done       map[*yaml.Node]*value // anchored nodes already converted
	size       map[*yaml.Node]int    // expanded size of anchored nodes
	height     map[*yaml.Node]int    // nesting height of anchored nodes
	busy       map[*yaml.Node]bool   // anchored nodes being converted (cycle check)
}

func (c *yamlConverter) convert(n *yaml.Node, depth int) (*value, error) {
	if n.Style&yaml.TaggedStyle != 0 {
		return nil, fmt.Errorf("line %d: the YAML tag %s is not allowed (values are read as the field's type)", n.Line, n.Tag)
	}
	if n.Kind == yaml.AliasNode {
		t := n.Alias
		if t == nil || c.busy[t] {
			return nil, fmt.Errorf("line %d: alias *%s refers to a value that contains it", n.Line, n.Value)
		}
		if depth+c.heightOf(t, 0)-1 > c.lim.MaxDepth {
			return nil, fmt.Errorf("line %d: alias *%s nests deeper than the limit of %d levels", n.Line, n.Value, c.lim.MaxDepth)
		}
		c.aliasBytes = satAdd(c.aliasBytes, c.sizeOf(t, 0))
		if c.aliasBytes > c.lim.MaxAliasBytes {
			return nil, fmt.Errorf("line %d: aliases repeat more than the limit of %s (alias *%s)", n.Line, Size(c.lim.MaxAliasBytes), n.Value)
		}
		return c.convert(t, depth)
	}
	if v, ok := c.done[n]; ok {
		return v, nil
	}
	if n.Anchor != "" {
		c.busy[n] = true
		defer delete(c.busy, n)
	}
	v := &value{line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		v.text = n.Value
		v.plain = n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
		if !v.plain {
			v.kind = kString
			break
		}
		switch n.ShortTag() {
		case "!!null":
			v.kind = kNull
		case "!!bool":
			v.kind, v.text = kBool, strings.ToLower(n.Value)
		case "!!int", "!!float":
			v.kind = kNumber
		default: // !!str, !!timestamp: the text as written
			v.kind = kString
		}
	case yaml.SequenceNode, yaml.MappingNode:
		if depth > c.lim.MaxDepth {
			return nil, fmt.Errorf("line %d: nested deeper than the limit of %d levels", n.Line, c.lim.MaxDepth)
		}
		v.kind = kList
		step := 1
		if n.Kind == yaml.MappingNode {
			v.kind, step = kObject, 2
		}
		for i := 0; i+step-1 < len(n.Content); i += step {
			if step == 2 {
				k := n.Content[i]
				if k.Kind != yaml.ScalarNode || k.Style&yaml.TaggedStyle != 0 && k.Tag != "!!merge" {
					return nil, fmt.Errorf("line %d: a key must be a plain string", k.Line)
				}
				v.keys = append(v.keys, k.Value)
				v.keyLines = append(v.keyLines, k.Line)
			}
			item, err := c.convert(n.Content[i+step-1], depth+1)
			if err != nil {
				return nil, err
			}
			v.items = append(v.items, item)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if n.Anchor != "" {
		c.done[n] = v
	}
	return v, nil
}

// sizeOf is a node's expanded size: scalar bytes plus one per node,
// aliases counted as what they repeat; saturating, memoized on anchored
// nodes so that nested aliases ("billion laughs") cost linear time.
func (c *yamlConverter) sizeOf(n *yaml.Node, guard int) int {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || guard > 10_000 {
			return math.MaxInt / 2
		}
		return c.sizeOf(n.Alias, guard+1)
	}
	if s, ok := c.size[n]; ok {
		return s
	}
	c.size[n] = math.MaxInt / 2 // a cycle is as large as can be
	s := 1 + len(n.Value)
	for _, ch := range n.Content {
		s = satAdd(s, c.sizeOf(ch, guard+1))
	}
	c.size[n] = s
	return s
}

// heightOf is a node's nesting height, aliases followed.
func (c *yamlConverter) heightOf(n *yaml.Node, guard int) int {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || guard > 10_000 {
			return math.MaxInt / 2
		}
		return c.heightOf(n.Alias, guard+1)
	}
	if h, ok := c.height[n]; ok {
		return h
	}
	c.height[n] = math.MaxInt / 2
	h := 0
	for _, ch := range n.Content {
		h = max(h, c.heightOf(ch, guard+1))
	}
	if n.Kind != yaml.ScalarNode {
		h++
	}
	c.height[n] = h
	return h
}

func satAdd(a, b int) int {
	if a > math.MaxInt/2-b {
		return math.MaxInt / 2
	}
	return a + b
}
