package gray

import (
	"strconv"
	"strings"
)

// version is a semantic version (semver.org 2.0.0) as gray compares it:
// major.minor.patch, the pre-release identifiers, no build metadata (it
// has no precedence: "Build metadata MUST be ignored when determining
// version precedence", item 10).
type version struct {
	core [3]uint64
	pre  []string
}

// parseVersion reads a semantic version strictly, as Unleash's SEMVER_
// operators do ("v2.0.0" is not one: the specification's
// invalidSemverWithLeadingV resolves to false). Numeric parts have no
// leading zeros (item 2; item 9 for numeric pre-release identifiers);
// identifiers are [0-9A-Za-z-], non-empty.
func parseVersion(s string) (version, bool) {
	var v version
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if !identifiers(s[i+1:], false) {
			return v, false
		}
		s = s[:i]
	}
	core, pre, hasPre := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, ok := number(p)
		if !ok {
			return v, false
		}
		v.core[i] = n
	}
	if hasPre {
		if !identifiers(pre, true) {
			return v, false
		}
		v.pre = strings.Split(pre, ".")
	}
	return v, true
}

// number reads a numeric identifier: digits, no leading zero.
func number(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// identifiers checks dot-separated identifiers of [0-9A-Za-z-]; numeric
// ones of a pre-release have no leading zero.
func identifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for _, c := range id {
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// compareVersions orders a and b by semver precedence (item 11).
func compareVersions(a, b version) int {
	for i := range a.core {
		if a.core[i] != b.core[i] {
			if a.core[i] < b.core[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1 // a release is above its pre-releases
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xNum, yNum := digits(x), digits(y)
		switch {
		case xNum && yNum && x != y:
			// Numerically, any size: a longer numeral (no leading zeros)
			// is larger.
			if len(x) != len(y) {
				if len(x) < len(y) {
					return -1
				}
				return 1
			}
			return strings.Compare(x, y)
		case xNum && !yNum:
			return -1 // numeric identifiers are below alphanumeric ones
		case !xNum && yNum:
			return 1
		case !xNum && x != y:
			return strings.Compare(x, y)
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}

// String writes the version without the "v".
func (v version) String() string {
	s := strconv.FormatUint(v.core[0], 10) + "." + strconv.FormatUint(v.core[1], 10) + "." + strconv.FormatUint(v.core[2], 10)
	if len(v.pre) > 0 {
		s += "-" + strings.Join(v.pre, ".")
	}
	return s
}

// successor is the version immediately above v in precedence: the next
// patch's lowest pre-release (x.y.(z+1)-0, carrying into minor and major)
// after a release, and v's
// pre-release with ".0" appended after a pre-release. Nothing lies
// between v and it, so v, its successor and the lowest version 0.0.0-0
// stand for every interval the compared versions cut.
func (v version) successor() version {
	if len(v.pre) == 0 {
		// The next patch's lowest pre-release, carrying into minor and
		// major at the largest numbers.
		next := v.core
		switch {
		case next[2] < ^uint64(0):
			next[2]++
		case next[1] < ^uint64(0):
			next[1], next[2] = next[1]+1, 0
		case next[0] < ^uint64(0):
			next[0], next[1], next[2] = next[0]+1, 0, 0
		default:
			return v // the largest release: nothing above it
		}
		return version{core: next, pre: []string{"0"}}
	}
	return version{core: v.core, pre: append(append([]string{}, v.pre...), "0")}
}

// digits reports whether s is all ASCII digits (a numeric identifier).
func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
