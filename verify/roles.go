package verify

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// target is one thing a deploy action changes.
type target struct {
	account, region, stack string
	// tpl is the template deployed, when the action names one in the
	// assembly.
	tpl    *Template
	action string
}

// stageRole is what verify makes of a stage.
type stageRole struct {
	deploys    bool
	targets    []target
	production bool
	// why says how production was recognised, for messages.
	why string
	// preProd names the pre-production role recognised ("" for none).
	preProd string
}

// targets lists what a stage's deploy actions change. A CloudFormation
// action's template is the TemplatePath of the stage's action preparing
// or deploying the same stack in the same region; its account is the
// stack's (from the manifest), else the account of the role the action
// passes to CloudFormation or assumes, else the pipeline's.
func (c *checker) targets(p Pipeline, s Stage) []target {
	var out []target
	for _, a := range s.Actions {
		if !a.Deploys() {
			continue
		}
		t := target{region: a.Region, action: a.Name}
		if a.Provider == "CloudFormation" {
			t.stack = a.Configuration["StackName"]
			for _, b := range s.Actions {
				if b.Provider == "CloudFormation" && b.Region == a.Region && b.Configuration["StackName"] == t.stack && b.Configuration["TemplatePath"] != "" {
					t.tpl = c.byPath[artifactPath(b.Configuration["TemplatePath"])]
					if b.Name == a.Name {
						break
					}
				}
			}
		} else {
			// A CodeDeploy, ECS or AppConfig action whose deployment group,
			// service or application is a resource of the pipeline's own
			// stack deploys through that stack's resources.
			for _, key := range []string{"DeploymentGroupName", "ServiceName", "Application", "ApplicationName"} {
				if id, ok := placeholderRef(a.Configuration[key]); ok && p.Template.Resources[id].Type != "" {
					t.tpl, t.stack = p.Template, p.Template.StackName
					break
				}
			}
		}
		if accessStack(t.tpl) || (t.tpl == nil && declaredAccess(p, s, t.stack)) {
			continue
		}
		switch {
		case t.tpl != nil && t.tpl.Account != "":
			t.account = t.tpl.Account
		case arnAccount(a.Configuration["RoleArn"]) != "":
			t.account = arnAccount(a.Configuration["RoleArn"])
		case arnAccount(a.RoleArn) != "":
			t.account = arnAccount(a.RoleArn)
		default:
			t.account = p.Account
		}
		out = append(out, t)
	}
	return out
}

// MetadataAccess is the template metadata key that marks safepipe's
// access stacks: the roles through which a pipeline's own machinery (the
// gate controller) reads its target accounts.
const MetadataAccess = "safepipe:access"

// accessStack reports whether a template is a pipeline access stack: it
// carries MetadataAccess and creates IAM roles and policies only. A stage
// deploys nothing of the service through such a stack (it is the
// pipeline's plumbing, created before any gated stage so that the gates
// can read the accounts), so it does not count as a deployment target.
func accessStack(t *Template) bool {
	if t == nil || t.Metadata[MetadataAccess] == nil || len(t.Resources) == 0 {
		return false
	}
	for _, r := range t.Resources {
		switch r.Type {
		case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::CDK::Metadata":
		default:
			return false
		}
	}
	return true
}

// declaredAccess reports whether the pipeline resource's MetadataAccess
// ({"stage": …, "stackName": …}) declares stack, deployed by stage s, to
// be its access stack: how a pipeline template read alone (without its
// stacks' templates) says which stage is its plumbing. The stack name must
// be one safepipe gives access stacks ("safepipe-access-…"). In an
// assembly the stack's own template decides (accessStack).
func declaredAccess(p Pipeline, s Stage, stack string) bool {
	m := asMap(p.Template.Resources[p.LogicalID].Metadata[MetadataAccess])
	return m != nil && str(m["stage"]) == s.Name && str(m["stackName"]) == stack && strings.HasPrefix(stack, "safepipe-access-")
}

// placeholderRef returns X for the placeholder "${X}" Flatten makes of a
// Ref.
func placeholderRef(s string) (string, bool) {
	if strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}") && !strings.ContainsAny(s[2:len(s)-1], ".${}") {
		return s[2 : len(s)-1], true
	}
	return "", false
}

// artifactPath strips the artifact name from "Artifact::path".
func artifactPath(p string) string {
	if k := strings.Index(p, "::"); k >= 0 {
		return p[k+2:]
	}
	return p
}

// roles works out which stages deploy and which of them are production:
//
//   - a stage deploys when it has a deploy action (Action.Deploys);
//   - a deploying stage is production when its name matches
//     Config.Production (and not Config.NonProduction), a stack it deploys
//     carries a production tag, or it deploys to one of
//     Config.ProductionAccounts;
//   - a deploying stage before those is production too when it deploys to
//     an account and region production deploys to, unless a stage
//     recognised as pre-production (by name or tag) deploys to that
//     account: shared infrastructure in the production account is
//     production;
//   - every deploying stage after the first production stage is
//     production, whatever its name.
//
// Names and tag values are compared case-insensitively, after folding the
// common non-Latin look-alikes of Latin letters (a Cyrillic Р for P).
func (c *checker) roles(p Pipeline) []stageRole {
	roles := make([]stageRole, len(p.Stages))
	for i, s := range p.Stages {
		r := &roles[i]
		r.targets = c.targets(p, s)
		r.deploys = len(r.targets) > 0
		name := skeleton(s.Name)
		switch {
		case c.cc.gammaOneBox.MatchString(name):
			r.preProd = "gamma one-box"
		case c.cc.gamma.MatchString(name):
			r.preProd = "gamma"
		case c.cc.beta.MatchString(name):
			r.preProd = "beta"
		case c.cc.alpha.MatchString(name):
			r.preProd = "alpha"
		case devName.MatchString(name):
			r.preProd = "pre-production"
		}
		if !r.deploys {
			continue
		}
		switch {
		case c.cc.production.MatchString(name) && !c.cc.nonProduction.MatchString(name):
			r.production, r.why = true, fmt.Sprintf("its name matches %s", c.cc.production)
		default:
			for _, t := range r.targets {
				if why, ok := c.productionTag(t.tpl); ok {
					r.production, r.why = true, why
					break
				}
				if why, ok := c.preProductionTag(t.tpl); ok && r.preProd == "" {
					r.preProd = why
				}
				if c.cc.prodAccounts[t.account] {
					r.production, r.why = true, fmt.Sprintf("it deploys to production account %s", t.account)
					break
				}
			}
		}
		if r.production {
			r.preProd = ""
		}
	}
	first := slices.IndexFunc(roles, func(r stageRole) bool { return r.production })
	if first < 0 {
		return roles
	}
	// Accounts and regions production deploys to, and accounts a
	// pre-production stage deploys to.
	type env struct{ account, region string }
	prodEnv := map[env]string{}
	preAccounts := map[string]bool{}
	for i, r := range roles {
		for _, t := range r.targets {
			if r.production && t.account != "" {
				if _, ok := prodEnv[env{t.account, t.region}]; !ok {
					prodEnv[env{t.account, t.region}] = p.Stages[i].Name
				}
			}
			if r.preProd != "" {
				preAccounts[t.account] = true
			}
		}
	}
	explicit := first
	for i := 0; i < first; i++ {
		r := &roles[i]
		if !r.deploys || r.preProd != "" {
			continue
		}
		for _, t := range r.targets {
			if by, ok := prodEnv[env{t.account, t.region}]; ok && !preAccounts[t.account] && t.account != p.Account {
				r.production = true
				r.why = fmt.Sprintf("it deploys to account %s in %s, as production stage %s does", t.account, regionName(t.region), by)
				break
			}
		}
	}
	// After the first stage recognised by name, tag or account, not after
	// one inferred from where it deploys.
	for i := explicit + 1; i < len(roles); i++ {
		if roles[i].deploys && !roles[i].production {
			roles[i].production = true
			roles[i].why = fmt.Sprintf("it comes after production stage %s", p.Stages[explicit].Name)
			roles[i].preProd = ""
		}
	}
	return roles
}

// devName recognises stages named for development and test environments;
// they keep account inference from taking their account for production.
var devName = regexp.MustCompile(`(?i)(^|[^a-z])(dev|develop|development|test|testing|qa|staging|sandbox|integ|integration)([^a-z]|$)`)

// productionTags are the tag keys whose production value makes a stack
// production.
var productionTags = []string{"environment", "env", "stage"}

func (c *checker) productionTag(t *Template) (string, bool) {
	if t == nil {
		return "", false
	}
	for _, k := range sortedKeys(t.Tags) {
		v := skeleton(t.Tags[k])
		if c.cc.tagKey != "" && strings.EqualFold(k, c.cc.tagKey) && strings.EqualFold(v, c.cc.tagValue) {
			return fmt.Sprintf("stack %s is tagged %s=%s", t.StackName, Escape(k), Escape(t.Tags[k])), true
		}
		if slices.ContainsFunc(productionTags, func(p string) bool { return strings.EqualFold(p, k) }) &&
			c.cc.production.MatchString(v) && !c.cc.nonProduction.MatchString(v) {
			return fmt.Sprintf("stack %s is tagged %s=%s", t.StackName, Escape(k), Escape(t.Tags[k])), true
		}
	}
	return "", false
}

// preProductionTag recognises a stack tagged as a pre-production
// environment.
func (c *checker) preProductionTag(t *Template) (string, bool) {
	if t == nil {
		return "", false
	}
	for _, k := range sortedKeys(t.Tags) {
		if !slices.ContainsFunc(productionTags, func(p string) bool { return strings.EqualFold(p, k) }) {
			continue
		}
		v := strings.ToLower(skeleton(t.Tags[k]))
		for _, pre := range []string{"alpha", "beta", "gamma", "dev", "test", "staging", "qa", "sandbox", "preprod", "pre-prod"} {
			if v == pre {
				return "pre-production (tag " + Escape(k) + "=" + Escape(t.Tags[k]) + ")", true
			}
		}
	}
	return "", false
}

func regionName(r string) string {
	if r == "" {
		return "the pipeline's region"
	}
	return r
}

// confusables maps non-Latin letters that look like Latin ones to those.
// It is the common subset of Unicode's confusables (UTS #39): Cyrillic and
// Greek capitals and small letters whose glyphs match ASCII letters.
var confusables = map[rune]rune{
	// Cyrillic
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
	'ѕ': 's', 'і': 'i', 'ј': 'j', 'ԁ': 'd', 'ԛ': 'q', 'ԝ': 'w', 'ɡ': 'g', 'һ': 'h', 'ӏ': 'l',
	'А': 'A', 'В': 'B', 'Е': 'E', 'К': 'K', 'М': 'M', 'Н': 'H', 'О': 'O', 'Р': 'P', 'С': 'C', 'Т': 'T', 'Х': 'X',
	'Ѕ': 'S', 'І': 'I', 'Ј': 'J', 'Ԛ': 'Q', 'Ԝ': 'W', 'Ү': 'Y',
	// Greek
	'α': 'a', 'ο': 'o', 'ρ': 'p', 'ε': 'e', 'ν': 'v', 'τ': 't', 'ι': 'i', 'κ': 'k', 'υ': 'u',
	'Α': 'A', 'Β': 'B', 'Ε': 'E', 'Η': 'H', 'Ι': 'I', 'Κ': 'K', 'Μ': 'M', 'Ν': 'N', 'Ο': 'O', 'Ρ': 'P', 'Τ': 'T', 'Χ': 'X', 'Υ': 'Y', 'Ζ': 'Z',
}

// skeleton folds a name for matching: look-alike letters become the Latin
// letters they imitate, fullwidth forms their ASCII, and invisible format
// characters disappear. Matching the skeleton means a look-alike can make
// verify see production where there is none, never the reverse.
func skeleton(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	return strings.Map(func(r rune) rune {
		if l, ok := confusables[r]; ok {
			return l
		}
		if r >= 0xFF01 && r <= 0xFF5E {
			return r - 0xFEE0
		}
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}
