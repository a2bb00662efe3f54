package verify

import (
	"regexp"
	"slices"
	"strings"
)

// accountPrincipalRE matches an AWS principal that names a whole account:
// its ID, or its root ARN in any partition ("arn:aws:iam::111122223333:root",
// as CDK's AccountPrincipal renders it with a Ref to AWS::Partition
// flattened in).
var accountPrincipalRE = regexp.MustCompile(`^(\d{12}|arn:[^:]*:iam::\d{12}:root|.*:iam::\d{12}:root)$`)

// trust reports the roles of a template whose trust policy lets a whole
// account (or anyone) assume them without a condition. "Using the account
// ARN in the Principal element does not limit permissions to only the
// root user of the account" and delegates to the account: any principal
// there that its own policies allow sts:AssumeRole may assume the role.
// The IAM user guide's way to narrow it is the aws:PrincipalArn condition
// key ("When you use this key, the role session principal is granted the
// permissions based on the ARN of role that was assumed"), and an
// account principal is usually paired with one
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
func (c *checker) trust(t *Template) {
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		doc := asMap(r.Properties["AssumeRolePolicyDocument"])
		for _, st := range asList(doc["Statement"]) {
			s := asMap(st)
			if Flatten(s["Effect"]) != "Allow" || len(asMap(s["Condition"])) > 0 || !assumesRole(s["Action"]) {
				continue
			}
			for _, who := range accountPrincipals(s["Principal"]) {
				c.add(RuleTrustCondition, Finding{Template: t.Path, Region: t.Region, Resource: id},
					"role %s may be assumed by %s with no condition: any principal of that account allowed sts:AssumeRole can act as the role", Escape(id), Escape(who))
			}
		}
	}
}

// assumesRole reports whether a statement's Action allows sts:AssumeRole.
func assumesRole(v any) bool {
	for _, a := range asList(v) {
		switch strings.ToLower(Flatten(a)) {
		case "sts:assumerole", "sts:*", "*":
			return true
		}
	}
	return false
}

// accountPrincipals are the principals of a statement that name a whole
// account, or everyone.
func accountPrincipals(v any) []string {
	if Flatten(v) == "*" {
		return []string{"*"}
	}
	var out []string
	for _, p := range asList(asMap(v)["AWS"]) {
		s := Flatten(p)
		if s == "*" || accountPrincipalRE.MatchString(s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// asList is a JSON value as a list: a list itself, one value as a list of
// one, nothing as nil.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}
