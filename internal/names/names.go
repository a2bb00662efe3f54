// Package names holds the rules for names that become parts of other names
// (alarm, metric, rule and stack names), shared by the constructs that
// make those names and the CLI that writes a team's repository. Pure Go.
package names

import "regexp"

// PartRE is what a team, environment or microservice name may contain:
// lower case letters, digits and dashes, starting with a letter, at most
// 40 characters. It becomes part of alarm names, metric names and rule
// names.
var PartRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// ValidPart reports whether s matches PartRE.
func ValidPart(s string) bool { return PartRE.MatchString(s) }
