package gray

import (
	"fmt"
	"strconv"
)

// price returns the cost of the analysis of rules, and checks, before the
// analysis runs, that it costs at most limit
// steps (see MaxAnalysisSteps): indexing every question's conditions,
// then enumerating every question's request classes against the rules it
// involves. It builds each question's class space once to count it
// (indexing is priced, and checked, first) and stops at the first
// question that takes the total over the limit.
func price(rules []compiledRule, limit int) (int, error) {
	n := len(rules)
	eval := make([]int, n)  // steps to evaluate a rule on one class
	index := make([]int, n) // steps to index a rule's conditions
	for i := range rules {
		eval[i], index[i] = weigh(&rules[i].node)
	}
	// Indexing: the shadow and share questions of rule i index rules
	// 0..i, and so does pricing them here; each pair of equal priority
	// indexes its two rules, here and in the analysis.
	used, prefix := 0, 0
	for i := range rules {
		prefix = addCap(prefix, index[i])
		used = addCap(used, mulCap(3, prefix))
	}
	for a := 0; a < n; {
		b, sum := a, 0
		for ; b < n && rules[b].rule.Priority == rules[a].rule.Priority; b++ {
			sum = addCap(sum, index[b])
		}
		used = addCap(used, mulCap(2*(b-a-1), sum))
		a = b
	}
	if used > limit {
		return used, fmt.Errorf("gray: %w: indexing the conditions of %d rules for the analysis would take %s steps (limit %s); use fewer or smaller rules, or split the set",
			ErrTooComplex, n, count(used), count(limit))
	}
	// Enumeration, largest question remembered for the message.
	worst, worstCost := "", 0
	charge := func(cost int, what func() string) error {
		used = addCap(used, cost)
		if cost > worstCost {
			worst, worstCost = what(), cost
		}
		if used > limit {
			return fmt.Errorf("gray: %w: the analysis would take more than %s steps (limit %s); the largest part: %s. Name fewer attribute values or keys per rule, or split the set",
				ErrTooComplex, count(used), count(limit), worst)
		}
		return nil
	}
	evalPrefix := 0
	for i := range rules {
		evalPrefix = addCap(evalPrefix, eval[i])
		sp := newSpace(rules[:i+1])
		classes := sp.size()
		what := func() string {
			return fmt.Sprintf("rule %q is checked over %s request classes against %s", rules[i].rule.Name, count(classes), plural(i, "higher-priority rule"))
		}
		if err := charge(mulCap(classes, addCap(evalPrefix, perClass)), what); err != nil {
			return used, err
		}
		sp.ordinaryKeyOnly = true
		if err := charge(mulCap(sp.size(), addCap(evalPrefix, perClass)), what); err != nil {
			return used, err
		}
	}
	for i := range rules {
		for j := i + 1; j < n && rules[j].rule.Priority == rules[i].rule.Priority; j++ {
			classes := newSpace([]compiledRule{rules[i], rules[j]}).size()
			what := func() string {
				return fmt.Sprintf("rules %q and %q (priority %d) are compared over %s request classes", rules[i].rule.Name, rules[j].rule.Name, rules[i].rule.Priority, count(classes))
			}
			if err := charge(mulCap(classes, addCap(eval[i]+eval[j], perClass)), what); err != nil {
				return used, err
			}
		}
	}
	return used, nil
}

// perClass is the price of enumerating one request class (setting its
// attributes), in steps.
const perClass = 2 * lookup

// lookup is the price of a map lookup, in steps; a step is about the cost
// of comparing two short strings.
const lookup = 8

// weigh returns a condition's evaluation steps (a map lookup for an
// allow-list, an attribute or a bucket, plus one per value a
// case-insensitive attribute compares) and its indexing steps (one per
// node, a lookup per allow-listed key, four lookups per attribute value:
// the value and its casings).
func weigh(n *node) (eval, index int) {
	eval, index = 1, 1
	switch n.kind {
	case kIDs:
		eval = addCap(eval, lookup)
		index = addCap(index, mulCap(lookup, len(n.set)))
	case kAttr:
		eval = addCap(eval, lookup+len(n.values))
		index = addCap(index, mulCap(4*lookup, len(n.values)+len(n.set)))
	case kPct:
		eval = addCap(eval, 4*lookup) // the attribute, the cell, and murmur3 of a named value
	}
	for i := range n.children {
		e, x := weigh(&n.children[i])
		eval, index = addCap(eval, e), addCap(index, x)
	}
	return eval, index
}

// count renders a step count for people: 1,881,792.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
