package verify

import (
	"regexp"
	"slices"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// accountPrincipalRE matches an AWS principal that names a whole account:
// its ID, or its root ARN in any partition ("arn:aws:iam::111122223333:root",
// as CDK's AccountPrincipal renders it with a Ref to AWS::Partition
// flattened in).
var accountPrincipalRE = regexp.MustCompile(`^(\d{12}|.*:iam::(\d{12}|\$\{AWS::AccountId\}):root)$`)

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
			if model.Flatten(s["Effect"]) != "Allow" || !assumesRole(s["Action"]) || namesPrincipals(asMap(s["Condition"])) {
				continue
			}
			why := "with no condition"
			if len(asMap(s["Condition"])) > 0 {
				why = "with a condition that does not name who (aws:PrincipalArn, aws:userid or sts:ExternalId)"
			}
			for _, who := range accountPrincipals(s["Principal"]) {
				whom := "any principal of that account allowed sts:AssumeRole can act as the role"
				if who == "*" {
					whom = "any principal the condition admits, in any account it admits, can act as the role"
				}
				c.add(RuleTrustCondition, Finding{Template: t.Path, Region: t.Region, Resource: id},
					"role %s may be assumed by %s %s: %s", Escape(id), Escape(who), why, whom)
			}
		}
	}
}

// namesPrincipals reports whether a trust statement's condition narrows it
// to named principals: a condition on aws:PrincipalArn or aws:userid (the
// roles or sessions that may assume it), or sts:ExternalId (the third
// party that knows it: "The primary function of the external ID is to
// address and prevent the confused deputy problem", IAM user guide). A
// condition on anything else (a source IP, MFA, a tag) leaves the whole
// account able to assume the role.
func namesPrincipals(cond map[string]any) bool {
	for op, kv := range cond {
		if strings.HasPrefix(op, "ForAnyValue:") || strings.HasSuffix(op, "IfExists") || op == "Null" {
			continue // a key that may be absent does not narrow anything
		}
		for k := range asMap(kv) {
			switch strings.ToLower(k) {
			case "aws:principalarn", "aws:userid", "sts:externalid":
				return true
			}
		}
	}
	return false
}

// assumesRole reports whether a statement's Action allows sts:AssumeRole.
func assumesRole(v any) bool {
	for _, a := range asList(v) {
		switch strings.ToLower(model.Flatten(a)) {
		case "sts:assumerole", "sts:*", "*":
			return true
		}
	}
	return false
}

// accountPrincipals are the principals of a statement that name a whole
// account, or everyone.
func accountPrincipals(v any) []string {
	if model.Flatten(v) == "*" {
		return []string{"*"}
	}
	var out []string
	for _, p := range asList(asMap(v)["AWS"]) {
		s := model.Flatten(p)
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
