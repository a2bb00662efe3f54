package model

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// What a stage of a pipeline is — production, a pre-production role, or
// neither — is decided here, once, for verify and the simulator.
//
// A stage's name is matched in two forms: its skeleton (look-alike letters
// folded to the Latin ones they imitate) and its Words (the skeleton with
// CamelCase, digit and separator boundaries made spaces: "DeployProd" is
// "Deploy Prod", "EUProd2" is "EU Prod 2"), so that a pattern of words
// finds a word however the name is written.

// The default patterns, each matched against a name's skeleton and Words,
// case-insensitively.
const (
	// DefaultProduction: the words prod, production and prd, and the word
	// for production in the languages teams commonly name stages in.
	DefaultProduction = `(?i)(^|[^\p{L}\p{N}])(prod|production|prd|produktion|producci[oó]n|produ[cç][aã]o|produzione|productie|produkcja|üretim|продакшн|продакшен|прод|продуктив)([^\p{L}]|$)|生产|生產|本番|프로덕션|운영|โปรดักชัน|ใช้งานจริง`
	// DefaultNonProduction: names that look like production but are not.
	DefaultNonProduction = `(?i)(pre|non)[-_. ]?(prod|production)`
	// DefaultAlpha, DefaultBeta, DefaultGamma and DefaultGammaOneBox name
	// the pre-production roles, by Amazon's names and the names other
	// teams give a stage that plays the role: alpha (a developer-facing
	// deployment), beta (integration tests), gamma (prod-like,
	// pre-production), and gamma's one-box.
	DefaultAlpha       = `(?i)(^alpha|(^|[^\p{L}])(dev|development|sandbox)([^\p{L}]|$))`
	DefaultBeta        = `(?i)(^beta|(^|[^\p{L}])(integ|integration|test|testing|qa|validate|validation|verify|e2e)([^\p{L}]|$))`
	DefaultGamma       = `(?i)(^gamma|(^|[^\p{L}])(pre[-_ ]?prod|pre[-_ ]?production|staging|uat|preview)([^\p{L}]|$))`
	DefaultGammaOneBox = `(?i)(^gamma.*one[-_ ]?box|(pre[-_ ]?prod|staging).*(one[-_ ]?box|canary))`
)

// RoleRules say how stages are recognised.
type RoleRules struct {
	// Production and NonProduction match production stage names.
	Production, NonProduction *regexp.Regexp
	// Alpha, Beta, Gamma and GammaOneBox match the pre-production roles.
	Alpha, Beta, Gamma, GammaOneBox *regexp.Regexp
	// TagKey and TagValue make a stage production when a stack it deploys
	// carries that tag ("" for none).
	TagKey, TagValue string
	// ProductionAccounts make a stage production when it deploys to one.
	ProductionAccounts map[string]bool
}

// DefaultRoleRules are the rules with the default patterns.
func DefaultRoleRules() RoleRules {
	return RoleRules{
		Production: regexp.MustCompile(DefaultProduction), NonProduction: regexp.MustCompile(DefaultNonProduction),
		Alpha: regexp.MustCompile(DefaultAlpha), Beta: regexp.MustCompile(DefaultBeta),
		Gamma: regexp.MustCompile(DefaultGamma), GammaOneBox: regexp.MustCompile(DefaultGammaOneBox),
	}
}

// Target is one thing a stage's deploy action changes.
type Target struct {
	Account, Region, Stack string
	// Tags are the stack's tags, when known.
	Tags map[string]string
}

// StageInfo is what the classification reads of a stage.
type StageInfo struct {
	Name    string
	Targets []Target
	// Windowed: the stage's entry holds a deployment window (a
	// DeploymentWindow rule, or a gate controller entry gate that applies
	// one).
	Windowed bool
}

// StageRole is what a stage is.
type StageRole struct {
	// Deploys: the stage changes something (it has a target).
	Deploys bool
	// Production, and why (for messages).
	Production bool
	Why        string
	// PreProd names the pre-production role recognised ("alpha", "beta",
	// "gamma", "gamma one-box", "pre-production", or a tag's; "" for
	// none).
	PreProd string
}

// NamesProduction reports whether a stage's name says production: it
// matches Production and not NonProduction.
func (rr RoleRules) NamesProduction(name string) bool {
	return Matches(rr.Production, name) && !Matches(rr.NonProduction, name)
}

// RunsCode reports whether an action of this provider runs code it
// carries (a build, commands, a function, a state machine): what it
// changes is not read from the pipeline.
func RunsCode(provider string) bool {
	switch provider {
	case "CodeBuild", "Commands", "Lambda", "StepFunctions":
		return true
	}
	return false
}

// OpaqueDeploy reports whether an action that runs code (RunsCode), in a
// stage that deploys nothing a tool reads, is taken to deploy: when it
// acts in another account through a role (elsewhere), or the stage's name
// says production. Such an action is an opaque target of the stage: the
// stage deploys, and is production by the usual rules, but what it
// changes is not read. Verify and the simulator both decide it here; the
// caller knows which actions are its own modelled steps (gates, bakes) and
// leaves them out.
func (rr RoleRules) OpaqueDeploy(stage string, elsewhere bool) bool {
	return elsewhere || rr.NamesProduction(stage)
}

// roleARN finds the accounts of IAM role ARNs in a string ("*" for any
// account).
var roleARN = regexp.MustCompile(`arn:[a-z*-]+:iam::([0-9]{12}|\*):role/`)

// RoleAccounts are the accounts of the IAM role ARNs in text, in order,
// each once ("*" for a wildcard account).
func RoleAccounts(text string) []string {
	var out []string
	for _, m := range roleARN.FindAllStringSubmatch(text, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// Matches reports whether re matches the name as written, its skeleton or
// its Words.
func Matches(re *regexp.Regexp, name string) bool {
	if re == nil {
		return false
	}
	return re.MatchString(name) || re.MatchString(Skeleton(name)) || re.MatchString(Words(name))
}

// Roles works out which stages deploy and which of them are production:
//
//   - a stage deploys when it has a target;
//   - a deploying stage is production when its name matches Production
//     (and not NonProduction), a stack it deploys carries a production tag
//     (TagKey=TagValue, or Environment, Env or Stage with a production
//     value), or it deploys to one of ProductionAccounts;
//   - a deploying stage no name or tag makes pre-production is
//     production when its entry holds a deployment window: a window is
//     what a team puts in front of production;
//   - a deploying stage before those is production too when it deploys to
//     an account and region production deploys to, unless a stage
//     recognised as pre-production (by name or tag) deploys to that
//     account: shared infrastructure in the production account is
//     production;
//   - every deploying stage after the first production stage is
//     production, whatever its name.
func Roles(pipelineAccount string, stages []StageInfo, rr RoleRules) []StageRole {
	roles := make([]StageRole, len(stages))
	for i, s := range stages {
		r := &roles[i]
		r.Deploys = len(s.Targets) > 0
		switch {
		case Matches(rr.GammaOneBox, s.Name):
			r.PreProd = "gamma one-box"
		case Matches(rr.Gamma, s.Name):
			r.PreProd = "gamma"
		case Matches(rr.Beta, s.Name):
			r.PreProd = "beta"
		case Matches(rr.Alpha, s.Name):
			r.PreProd = "alpha"
		}
		if !r.Deploys {
			continue
		}
		switch {
		case rr.NamesProduction(s.Name):
			r.Production, r.Why = true, "its name says production"
			if rr.Production.String() != DefaultProduction {
				r.Why = fmt.Sprintf("its name matches %s", rr.Production)
			}
		default:
			for _, t := range s.Targets {
				if why, ok := rr.productionTag(t); ok {
					r.Production, r.Why = true, why
					break
				}
				if why, ok := preProductionTag(t); ok && r.PreProd == "" {
					r.PreProd = why
				}
				if rr.ProductionAccounts[t.Account] {
					r.Production, r.Why = true, fmt.Sprintf("it deploys to production account %s", t.Account)
					break
				}
			}
			if !r.Production && s.Windowed && r.PreProd == "" {
				r.Production, r.Why = true, "its entry holds a deployment window"
			}
		}
		if r.Production {
			r.PreProd = ""
		}
	}
	first := slices.IndexFunc(roles, func(r StageRole) bool { return r.Production })
	if first < 0 {
		return roles
	}
	// Accounts and regions production deploys to, and accounts a
	// pre-production stage deploys to.
	type env struct{ account, region string }
	prodEnv := map[env]string{}
	preAccounts := map[string]bool{}
	for i, r := range roles {
		for _, t := range stages[i].Targets {
			if r.Production && t.Account != "" {
				if _, ok := prodEnv[env{t.Account, t.Region}]; !ok {
					prodEnv[env{t.Account, t.Region}] = stages[i].Name
				}
			}
			if r.PreProd != "" {
				preAccounts[t.Account] = true
			}
		}
	}
	explicit := first
	for i := 0; i < first; i++ {
		r := &roles[i]
		if !r.Deploys || r.PreProd != "" {
			continue
		}
		for _, t := range stages[i].Targets {
			if by, ok := prodEnv[env{t.Account, t.Region}]; ok && !preAccounts[t.Account] && t.Account != pipelineAccount {
				r.Production = true
				r.Why = fmt.Sprintf("it deploys to account %s in %s, as production stage %s does", t.Account, regionName(t.Region), by)
				break
			}
		}
	}
	// After the first stage recognised by name, tag or account, not after
	// one inferred from where it deploys.
	for i := explicit + 1; i < len(roles); i++ {
		if roles[i].Deploys && !roles[i].Production {
			roles[i].Production = true
			roles[i].Why = fmt.Sprintf("it comes after production stage %s", stages[explicit].Name)
			roles[i].PreProd = ""
		}
	}
	return roles
}

func regionName(r string) string {
	if r == "" {
		return "the pipeline's region"
	}
	return r
}

// productionTags are the tag keys whose production value makes a stack
// production.
var productionTags = []string{"environment", "env", "stage"}

func (rr RoleRules) productionTag(t Target) (string, bool) {
	for _, k := range sortedKeys(t.Tags) {
		v := Skeleton(t.Tags[k])
		if rr.TagKey != "" && strings.EqualFold(k, rr.TagKey) && strings.EqualFold(v, rr.TagValue) {
			return fmt.Sprintf("stack %s is tagged %s=%s", t.Stack, Escape(k), Escape(t.Tags[k])), true
		}
		if slices.ContainsFunc(productionTags, func(p string) bool { return strings.EqualFold(p, k) }) &&
			Matches(rr.Production, v) && !Matches(rr.NonProduction, v) {
			return fmt.Sprintf("stack %s is tagged %s=%s", t.Stack, Escape(k), Escape(t.Tags[k])), true
		}
	}
	return "", false
}

// preProductionTag recognises a stack tagged as a pre-production
// environment.
func preProductionTag(t Target) (string, bool) {
	for _, k := range sortedKeys(t.Tags) {
		if !slices.ContainsFunc(productionTags, func(p string) bool { return strings.EqualFold(p, k) }) {
			continue
		}
		v := strings.ToLower(Skeleton(t.Tags[k]))
		for _, pre := range []string{"alpha", "beta", "gamma", "dev", "test", "staging", "qa", "sandbox", "preprod", "pre-prod", "uat"} {
			if v == pre {
				return "pre-production (tag " + Escape(k) + "=" + Escape(t.Tags[k]) + ")", true
			}
		}
	}
	return "", false
}

// MetadataAccess is the template metadata key that marks safepipe's
// access stacks: the roles through which a pipeline's own machinery (the
// gate controller) reads its target accounts.
const MetadataAccess = "safepipe:access"

// DeclaredAccess reports whether a pipeline resource's MetadataAccess
// declaration ({"stage": …, "stackName": …}) names stack, deployed by
// stage, as its access stack: a lone pipeline template does not hold the
// access stack's template, so its declaration is what says it.
func DeclaredAccess(decl any, stage, stack string) bool {
	m, _ := decl.(map[string]any)
	if m == nil {
		return false
	}
	st, _ := m["stage"].(string)
	name, _ := m["stackName"].(string)
	return st == stage && name == stack && strings.HasPrefix(stack, "safepipe-access-")
}

// AccessStack reports whether a template is a pipeline access stack: it
// carries MetadataAccess and creates IAM roles and policies only. A stage
// deploys nothing of the service through such a stack (it is the
// pipeline's plumbing, created before any gated stage so that the gates
// can read the accounts), so it is no deployment target.
func AccessStack(metadata map[string]any, resourceTypes []string) bool {
	if metadata[MetadataAccess] == nil || len(resourceTypes) == 0 {
		return false
	}
	for _, t := range resourceTypes {
		switch t {
		case "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::CDK::Metadata":
		default:
			return false
		}
	}
	return true
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

// Skeleton folds a name for matching: look-alike letters become the Latin
// letters they imitate, fullwidth forms their ASCII, and invisible format
// characters disappear. Matching the skeleton means a look-alike can make
// a reader see production where there is none, never the reverse. (A
// whole word in another script — "прод" — is matched as written.)
func Skeleton(s string) string {
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

// Words is a name's skeleton with its word boundaries made spaces:
// separators (-, _, ., @, spaces), a lower-case letter followed by an
// upper-case one ("DeployProd"), the last of a run of capitals followed by
// a lower-case letter ("EUProd": "EU Prod"), and letters next to digits.
func Words(s string) string {
	rs := []rune(Skeleton(s))
	var b strings.Builder
	for i, r := range rs {
		if r == '-' || r == '_' || r == '.' || r == '@' || unicode.IsSpace(r) {
			b.WriteByte(' ')
			continue
		}
		if i > 0 {
			p := rs[i-1]
			var next rune
			if i+1 < len(rs) {
				next = rs[i+1]
			}
			switch {
			case unicode.IsLower(p) && unicode.IsUpper(r),
				unicode.IsUpper(p) && unicode.IsUpper(r) && unicode.IsLower(next),
				unicode.IsLetter(p) && unicode.IsDigit(r),
				unicode.IsDigit(p) && unicode.IsLetter(r):
				b.WriteByte(' ')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
