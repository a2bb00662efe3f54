package gray

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinels for "a value no rule names" and "no such attribute"; they
// contain a NUL byte, which no rule value can equal in practice.
const (
	other  = "\x00other"
	absent = "\x00absent"
	// casing + v is the class of values that equal v case-insensitively
	// but no value a case-sensitive rule names ("Paris" next to "paris"
	// and "PARIS", or a Kelvin sign K for k): case-insensitive rules match
	// it, case-sensitive ones do not, and it hashes like any other value.
	casing = "\x00casing:"
)

// free reports whether a class value stands for many strings, so that a
// percentage keyed on it may fall in any hash cell.
func free(v string) bool { return v == other || strings.HasPrefix(v, casing) }

// srcGroup is a hash ordering: the key source ("" is Context.Key, else an
// attribute) and the group that salts it.
type srcGroup struct{ source, group string }

// cell is an elementary slice of h % 1000 that no percentage rule splits.
type cell struct{ start, width uint32 }

// space is the set of request classes that can tell a set of rules apart.
type space struct {
	keys            []string
	attrs           []string
	values          map[string][]string
	sources         []string              // sources with percentages, sorted
	groups          map[string][]srcGroup // source → its orderings
	cells           map[srcGroup][]cell
	ordinaryKeyOnly bool
}

func newSpace(rules []compiledRule) *space {
	sp := &space{values: map[string][]string{}, groups: map[string][]srcGroup{}, cells: map[srcGroup][]cell{}}
	ids := map[string]bool{}
	vals := map[string]map[string]bool{}
	nums := map[string][]float64{}
	times := map[string][]time.Time{}
	bounds := map[srcGroup]map[uint32]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		switch n.kind {
		case kIDs:
			for id := range n.set {
				ids[id] = true
			}
		case kAttr:
			if vals[n.name] == nil {
				vals[n.name] = map[string]bool{}
			}
			for v := range n.set {
				vals[n.name][v] = true
			}
			for _, v := range n.values { // case-insensitive: named casings and the rest
				for _, w := range []string{v, strings.ToLower(v), strings.ToUpper(v), casing + strings.ToLower(v)} {
					vals[n.name][w] = true
				}
			}
		case kNum:
			// The numbers around each value a rule compares with: the
			// value, and one below and one above it (between two values,
			// their midpoint stands for the numbers between).
			if vals[n.name] == nil {
				vals[n.name] = map[string]bool{}
			}
			nums[n.name] = append(nums[n.name], n.num)
		case kSemver:
			// Each compared version, its immediate successor and the
			// lowest version stand for every interval (version.successor).
			if vals[n.name] == nil {
				vals[n.name] = map[string]bool{}
			}
			for _, v := range []string{n.ver.String(), n.ver.successor().String(), "0.0.0-0"} {
				vals[n.name][v] = true
				vals[n.name][v+"+x"] = true // the same precedence, a spelling no attribute names
			}
		case kDate:
			// The times around each time a rule compares with, as for
			// numbers (a nanosecond below and above, midpoints between).
			if vals[n.name] == nil {
				vals[n.name] = map[string]bool{}
			}
			times[n.name] = append(times[n.name], n.at)
		case kPct:
			if n.name != "" && vals[n.name] == nil {
				vals[n.name] = map[string]bool{}
			}
			sg := srcGroup{n.name, n.group}
			if bounds[sg] == nil {
				bounds[sg] = map[uint32]bool{0: true, 1000: true}
			}
			scale := 1000 / n.buckets // percent slices are ten per-mille cells
			bounds[sg][n.from*scale] = true
			bounds[sg][n.to*scale] = true
		}
		for i := range n.children {
			walk(&n.children[i])
		}
	}
	for i := range rules {
		walk(&rules[i].node)
	}
	for a, ns := range nums {
		slices.Sort(ns)
		ns = slices.Compact(ns)
		for i, x := range ns {
			vals[a][strconv.FormatFloat(x, 'g', -1, 64)] = true
			if i == 0 {
				vals[a][strconv.FormatFloat(x-1, 'g', -1, 64)] = true
			} else {
				vals[a][strconv.FormatFloat(ns[i-1]/2+x/2, 'g', -1, 64)] = true
			}
			if i == len(ns)-1 {
				vals[a][strconv.FormatFloat(x+1, 'g', -1, 64)] = true
			}
		}
	}
	// Each compared number, time or version gets two spellings: its
	// canonical one and one no attribute condition is likely to name
	// ("5e+00", the instant in another zone, build metadata), so that a
	// string condition on the same attribute cannot claim every request of
	// the interval a representative stands for.
	addNum := func(a string, x float64) {
		vals[a][strconv.FormatFloat(x, 'g', -1, 64)] = true
		vals[a][strconv.FormatFloat(x, 'e', -1, 64)] = true
	}
	for a, ns := range nums {
		slices.Sort(ns)
		ns = slices.Compact(ns)
		for i, x := range ns {
			addNum(a, x)
			if i == 0 {
				addNum(a, math.Nextafter(x, math.Inf(-1)))
			} else if mid := ns[i-1] + (x-ns[i-1])/2; mid > ns[i-1] && mid < x {
				addNum(a, mid)
			}
			if i == len(ns)-1 {
				addNum(a, math.Nextafter(x, math.Inf(1)))
			}
		}
	}
	east := time.FixedZone("", 3600)
	addTime := func(a string, t time.Time) {
		vals[a][t.UTC().Format(time.RFC3339Nano)] = true
		vals[a][t.In(east).Format(time.RFC3339Nano)] = true
	}
	for a, ts := range times {
		slices.SortFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
		ts = slices.CompactFunc(ts, func(x, y time.Time) bool { return x.Equal(y) })
		for i, x := range ts {
			addTime(a, x)
			if i == 0 {
				addTime(a, x.Add(-time.Nanosecond))
			} else if mid := midpoint(ts[i-1], x); mid.After(ts[i-1]) && mid.Before(x) {
				addTime(a, mid)
			}
			if i == len(ts)-1 {
				addTime(a, x.Add(time.Nanosecond))
			}
		}
	}
	sp.keys = append(slices.Sorted(maps.Keys(ids)), "", other)
	sp.attrs = slices.Sorted(maps.Keys(vals))
	for _, a := range sp.attrs {
		sp.values[a] = append(slices.Sorted(maps.Keys(vals[a])), other, absent)
	}
	var sgs []srcGroup
	for sg := range bounds {
		sgs = append(sgs, sg)
	}
	sort.Slice(sgs, func(i, j int) bool {
		return sgs[i].source < sgs[j].source || sgs[i].source == sgs[j].source && sgs[i].group < sgs[j].group
	})
	for _, sg := range sgs {
		if len(sp.groups[sg.source]) == 0 {
			sp.sources = append(sp.sources, sg.source)
		}
		sp.groups[sg.source] = append(sp.groups[sg.source], sg)
		var bs []uint32
		for b := range bounds[sg] {
			bs = append(bs, b)
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i] < bs[j] })
		for i := 0; i+1 < len(bs); i++ {
			sp.cells[sg] = append(sp.cells[sg], cell{start: bs[i], width: bs[i+1] - bs[i]})
		}
	}
	return sp
}

// size bounds the number of classes each enumerates.
func (sp *space) size() int {
	n := len(sp.keys)
	if sp.ordinaryKeyOnly {
		n = 1
	}
	for _, a := range sp.attrs {
		n = mulCap(n, len(sp.values[a]))
	}
	for _, sgs := range sp.groups {
		for _, sg := range sgs {
			n = mulCap(n, len(sp.cells[sg]))
		}
	}
	return n
}

// mulCap multiplies non-negative counts, saturating at capped.
func mulCap(a, b int) int {
	if a != 0 && b > capped/a {
		return capped
	}
	return min(a*b, capped)
}

// addCap adds non-negative counts, saturating at capped.
func addCap(a, b int) int { return min(a+b, capped) }

// capped is "more than any budget": counts saturate there.
const capped = math.MaxInt / 4

// point is one request class.
type point struct {
	sp    *space
	key   string
	attrs map[string]string
	cell  map[srcGroup]int // for sources whose value is other
	// class numbers the key and attribute values (not the cells): each
	// visits the classes of one attribute class consecutively.
	class int
}

// each calls f for every class; the point is reused between calls.
func (sp *space) each(f func(p *point)) {
	p := &point{sp: sp, attrs: map[string]string{}, cell: map[srcGroup]int{}}
	keys := sp.keys
	if sp.ordinaryKeyOnly {
		keys = []string{other}
	}
	var cellsOf func(si int)
	cellsOf = func(si int) {
		if si == len(sp.sources) {
			f(p)
			return
		}
		src := sp.sources[si]
		v := p.key
		if src != "" {
			v = p.attrs[src]
		}
		if !free(v) { // a named value hashes to one bucket: no choice
			cellsOf(si + 1)
			return
		}
		var inGroup func(gi int)
		sgs := sp.groups[src]
		inGroup = func(gi int) {
			if gi == len(sgs) {
				cellsOf(si + 1)
				return
			}
			for c := range sp.cells[sgs[gi]] {
				p.cell[sgs[gi]] = c
				inGroup(gi + 1)
			}
			delete(p.cell, sgs[gi])
		}
		inGroup(0)
	}
	var attrsOf func(ai int)
	attrsOf = func(ai int) {
		if ai == len(sp.attrs) {
			p.class++
			cellsOf(0)
			return
		}
		a := sp.attrs[ai]
		for _, v := range sp.values[a] {
			p.attrs[a] = v
			attrsOf(ai + 1)
		}
	}
	for _, k := range keys {
		p.key = k
		attrsOf(0)
	}
}

// match evaluates a rule's condition on the class. A probability matches
// when it may (sure == false: p > 0) or surely (sure: p ≥ 1).
func (p *point) match(n *node, sure bool) bool {
	switch n.kind {
	case kIDs:
		_, ok := n.set[p.key]
		return ok
	case kAttr:
		v := p.attrs[n.name]
		if v == other || v == absent {
			return false
		}
		if c, ok := strings.CutPrefix(v, casing); ok {
			// another casing of c: only case-insensitive rules match it
			if !n.fold {
				return false
			}
			for _, w := range n.values {
				if strings.EqualFold(c, w) {
					return true
				}
			}
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
		v := p.key
		if n.name != "" {
			v = p.attrs[n.name]
		}
		if v == "" || v == absent {
			return n.name == "" && n.from == 0 && n.to >= n.buckets // the whole range of the request key takes keyless requests (eval.go)
		}
		var m uint32
		if free(v) {
			sg := srcGroup{n.name, n.group}
			m = p.sp.cells[sg][p.cell[sg]].start
		} else {
			m = permille(murmur3(n.group, ":", v))
		}
		return n.from < bucketOf(m, n.buckets) && bucketOf(m, n.buckets) <= n.to
	case kProb:
		if sure {
			return n.prob >= 1
		}
		return n.prob > 0
	case kNot:
		// Surely not X when X may not match; possibly not X when X does
		// not surely match.
		return !p.match(&n.children[0], !sure)
	case kNum, kDate, kSemver:
		v := p.attrs[n.name]
		if v == other || v == absent {
			return false // a value no rule names is not a number, time or version here: those are enumerated
		}
		if c, ok := strings.CutPrefix(v, casing); ok {
			// Another casing of c: upper case stands for it (a semver
			// pre-release compares case-sensitively).
			v = strings.ToUpper(c)
		}
		switch n.kind {
		case kDate:
			return n.when(v)
		case kSemver:
			return n.versus(v)
		}
		return n.compare(v)
	case kAll:
		for i := range n.children {
			if !p.match(&n.children[i], sure) {
				return false
			}
		}
		return true
	default:
		for i := range n.children {
			if p.match(&n.children[i], sure) {
				return true
			}
		}
		return false
	}
}

// weight is the class's share of ordinary keys: the product of its bucket
// cells' widths.
func (p *point) weight() float64 {
	w := 1.0
	for sg, c := range p.cell {
		w *= float64(p.sp.cells[sg][c].width) / 1000
	}
	return w
}

// String describes the class for a reader.
func (p *point) String() string {
	var parts []string
	switch p.key {
	case other:
		parts = append(parts, "any other key")
	case "":
		parts = append(parts, "no key")
	default:
		parts = append(parts, fmt.Sprintf("key %q", p.key))
	}
	for _, a := range p.sp.attrs {
		switch v := p.attrs[a]; {
		case v == other, v == absent:
		case strings.HasPrefix(v, casing):
			parts = append(parts, fmt.Sprintf("%s=another casing of %q", a, strings.TrimPrefix(v, casing)))
		default:
			parts = append(parts, fmt.Sprintf("%s=%q", a, v))
		}
	}
	var sgs []string
	for sg, c := range p.cell {
		cl := p.sp.cells[sg][c]
		sgs = append(sgs, fmt.Sprintf("hash slice %d–%d‰ of group %q", cl.start, cl.start+cl.width, sg.group))
	}
	sort.Strings(sgs)
	return strings.Join(append(parts, sgs...), ", ")
}

// midpoint is the instant halfway between a and b (a before b), for any
// years: Sub saturates at about 292 years, so far-apart times halve their
// seconds instead.
func midpoint(a, b time.Time) time.Time {
	if d := b.Sub(a); d < time.Duration(math.MaxInt64) {
		return a.Add(d / 2)
	}
	return time.Unix(a.Unix()+(b.Unix()-a.Unix())/2, 0).UTC()
}
