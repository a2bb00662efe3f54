package alarms

// CloudWatch composite alarm limits.
const (
	// MaxCompositeChildren is the most alarms one composite rule may name.
	MaxCompositeChildren = 100
	// MaxCompositeRuleLength is the longest composite rule, in characters.
	MaxCompositeRuleLength = 10240
)

// arnOverhead is the longest alarm ARN without the alarm name,
// "arn:aws-iso-b:cloudwatch:ap-southeast-5:123456789012:alarm:", padded;
// ruleTermOverhead is `ALARM("")` plus the " OR " joining terms. Lengths
// are estimated from alarm names, because ARNs are tokens at synth time.
const (
	arnOverhead      = 64
	ruleTermOverhead = len(`ALARM("")`) + len(" OR ")
	// unknownNameLength is assumed for an alarm whose name is a token.
	unknownNameLength = 255
)

// termLength is the rule characters one child costs.
func termLength(name string) int {
	if name == "" {
		name = string(make([]byte, unknownNameLength))
	}
	return ruleTermOverhead + arnOverhead + len(name)
}

// split groups children, in order, so that no group has more than
// maxChildren members or more than maxLength rule characters (an
// OR-expression wrapped in parentheses). A child longer than maxLength on
// its own still gets a group; the caller cannot do better.
func split(lengths []int, maxChildren, maxLength int) [][]int {
	var groups [][]int
	var cur []int
	size := 2 // the parentheses
	for i, l := range lengths {
		if len(cur) > 0 && (len(cur) == maxChildren || size+l > maxLength) {
			groups = append(groups, cur)
			cur, size = nil, 2
		}
		cur = append(cur, i)
		size += l
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}
