package gray

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the Unleash specification report in testdata/unleash")

// The parts of a specification file the toggle vectors use.
type (
	specToggles struct {
		Name  string          `json:"name"`
		State json.RawMessage `json:"state"`
		Tests []struct {
			Description string      `json:"description"`
			Context     specContext `json:"context"`
			ToggleName  string      `json:"toggleName"`
			Expected    bool        `json:"expectedResult"`
		} `json:"tests"`
		VariantTests []json.RawMessage `json:"variantTests"`
	}
	specState struct {
		Features []struct {
			Name         string            `json:"name"`
			Enabled      bool              `json:"enabled"`
			Strategies   []specRule        `json:"strategies"`
			Dependencies []json.RawMessage `json:"dependencies"`
		} `json:"features"`
		Segments []json.RawMessage `json:"segments"`
	}
	specRule struct {
		Name        string            `json:"name"`
		Parameters  map[string]string `json:"parameters"`
		Segments    []json.RawMessage `json:"segments"`
		Constraints []struct {
			ContextName     string   `json:"contextName"`
			Operator        string   `json:"operator"`
			Values          []string `json:"values"`
			Value           *string  `json:"value"`
			Inverted        bool     `json:"inverted"`
			CaseInsensitive bool     `json:"caseInsensitive"`
		} `json:"constraints"`
	}
)

// unmodelled says why a toggle vector has no gray counterpart.
type unmodelled string

// translate is an Unleash toggle as a gray match, on when the toggle is,
// for the vector's context (whose key and session decide where gray and
// Unleash read a keyless request differently); or why it has none.
func translate(enabled bool, strategies []specRule, ctx specContext) (Match, unmodelled) {
	never := Match{Attribute: &Attribute{Name: "x", In: []string{}}}
	if !enabled {
		return never, ""
	}
	if len(strategies) == 0 {
		return Match{Not: &never}, ""
	}
	var any []Match
	for _, s := range strategies {
		if len(s.Segments) > 0 {
			return Match{}, "segments (shared constraint sets)"
		}
		var all []Match
		switch s.Name {
		case "default":
		case "userWithId":
			var ids []string
			for _, id := range strings.Split(s.Parameters["userIds"], ",") {
				ids = append(ids, strings.TrimSpace(id))
			}
			all = append(all, Match{IDs: ids})
		case "gradualRolloutUserId", "gradualRolloutSessionId", "flexibleRollout":
			pct, group, key := s.Parameters["percentage"], s.Parameters["groupId"], ""
			source := ctx.UserID
			switch s.Name {
			case "gradualRolloutSessionId":
				key, source = SessionAttribute, ctx.SessionID
			case "flexibleRollout":
				pct = s.Parameters["rollout"]
				switch st := s.Parameters["stickiness"]; st {
				case "", "default":
					if ctx.UserID == "" && ctx.SessionID != "" {
						return Match{}, "default stickiness falling back to the session (a gray percentage keys on one source)"
					}
				case "userId":
				case "sessionId":
					key, source = SessionAttribute, ctx.SessionID
				case "random":
					return Match{}, "random stickiness (not sticky)"
				default:
					key, source = st, ctx.Properties[st]
				}
			}
			p, err := strconv.Atoi(pct)
			if err != nil || p < 0 || p > 100 {
				return Match{}, unmodelled("a percentage that is not 0–100: " + pct)
			}
			if source == "" && p == 100 && key == "" && (s.Name == "gradualRolloutUserId" || s.Parameters["stickiness"] == "userId") {
				return Match{}, "a request without userId at 100% of userId (gray's whole range of the request key takes it; this strategy requires the id)"
			}
			all = append(all, Match{Percent: &Percent{Percent: &p, Group: group, Key: key}})
		case "gradualRolloutRandom":
			return Match{}, "a random rollout (not sticky)"
		case "remoteAddress":
			return Match{}, "a remote-address strategy (gray never routes by IP)"
		default:
			return Match{}, unmodelled("strategy " + s.Name)
		}
		for _, c := range s.Constraints {
			var m Match
			values := c.Values
			name := c.ContextName
			switch name {
			case "userId", "sessionId", "environment", "appName":
			case "remoteAddress":
				return Match{}, "a remote-address constraint (gray never routes by IP)"
			}
			if name == "sessionId" {
				name = SessionAttribute
			}
			switch c.Operator {
			case "IN", "NOT_IN":
				if name == "userId" {
					if c.CaseInsensitive {
						return Match{}, "a case-insensitive userId constraint (allow-lists compare exactly)"
					}
					m = Match{IDs: append([]string{}, values...)}
					if len(values) == 0 {
						m = never
					}
				} else {
					m = Match{Attribute: &Attribute{Name: name, In: append([]string{}, values...), CaseSensitive: !c.CaseInsensitive}}
				}
				if c.Operator == "NOT_IN" {
					in := m
					m = Match{Not: &in}
				}
			case "NUM_EQ", "NUM_GT", "NUM_GTE", "NUM_LT", "NUM_LTE":
				if c.Value == nil || name == "userId" {
					return Match{}, "a numeric constraint without a value, or on the key"
				}
				x, err := strconv.ParseFloat(*c.Value, 64)
				if err != nil {
					return Match{}, unmodelled("a numeric constraint on a value that is not a number: " + *c.Value)
				}
				m = Match{Number: &Number{Name: name, Op: strings.ToLower(strings.TrimPrefix(c.Operator, "NUM_")), Value: x}}
			case "STR_CONTAINS", "STR_STARTS_WITH", "STR_ENDS_WITH":
				return Match{}, "string operators"
			case "DATE_AFTER", "DATE_BEFORE":
				if c.Value == nil {
					return Match{}, "a date constraint without a value"
				}
				if _, err := time.Parse(time.RFC3339, *c.Value); err != nil {
					return Match{}, unmodelled("a date constraint on a value that is not an RFC 3339 time")
				}
				m = Match{Date: &Date{Name: name, Op: strings.ToLower(strings.TrimPrefix(c.Operator, "DATE_")), Value: *c.Value}}
			case "SEMVER_EQ", "SEMVER_GT", "SEMVER_GTE", "SEMVER_LT", "SEMVER_LTE":
				if c.Value == nil {
					return Match{}, "a semver constraint without a value"
				}
				if _, ok := parseVersion(*c.Value); !ok {
					m = never // Unleash: an invalid version resolves to false
					break
				}
				m = Match{Semver: &Semver{Name: name, Op: strings.ToLower(strings.TrimPrefix(c.Operator, "SEMVER_")), Value: *c.Value}}
			case "REGEX":
				return Match{}, "regular expressions"
			case "IN_CIDR":
				return Match{}, "network ranges (gray never routes by IP)"
			default:
				return Match{}, unmodelled("an unknown operator (" + c.Operator + ")")
			}
			if c.Inverted {
				inner := m
				m = Match{Not: &inner}
			}
			all = append(all, m)
		}
		switch len(all) {
		case 0:
			return Match{Not: &never}, "" // a strategy with nothing to check is on
		case 1:
			any = append(any, all[0])
		default:
			any = append(any, Match{All: all})
		}
	}
	if len(any) == 1 {
		return any[0], ""
	}
	return Match{Any: any}, ""
}

// TestUnleashSpecification runs every toggle vector of every file of
// Unleash's client specification that gray has the means to express
// (translate), through Load's validation, Compile and Evaluate, and
// writes testdata/unleash/REPORT.md: per file, the vectors, how many pass,
// and why the others have no gray counterpart. Every expressible vector
// must pass.
func TestUnleashSpecification(t *testing.T) {
	files, err := filepath.Glob("testdata/unleash/*.json")
	require.NoError(t, err)
	require.Len(t, files, 22, "every file of the specification at the pinned commit")
	var report strings.Builder
	report.WriteString("# Unleash client specification: what gray expresses\n\n")
	report.WriteString("Written by `go test ./gray -run TestUnleashSpecification -update` (TestUnleashSpecification in\n`gray/spec_test.go`). Each toggle vector (`tests`) is translated to a gray match where gray has the\nmeans (strategies default, userWithId, gradualRolloutUserId/SessionId, flexibleRollout; constraints\nIN, NOT_IN, NUM_*, DATE_*, SEMVER_*, inverted, caseInsensitive) and must give Unleash's result; the variant vectors\nof 08, 12 and 16 run in TestUnleashVariantVectors.\n\n")
	report.WriteString("| File | Toggle vectors | Pass | Not expressible in gray (why) | Variant vectors |\n|---|---|---|---|---|\n")
	totalT, totalP := 0, 0
	for _, path := range files {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var spec specToggles
		require.NoError(t, json.Unmarshal(b, &spec), path)
		var state specState
		_ = json.Unmarshal(spec.State, &state) // the delta-API files hold events, not a state
		features := map[string]int{}
		for i, f := range state.Features {
			features[f.Name] = i
		}
		passed := 0
		why := map[string]int{}
		for _, v := range spec.Tests {
			i, ok := features[v.ToggleName]
			var reason unmodelled
			var m Match
			switch {
			case !ok && len(state.Features) == 0:
				reason = "delta API events, not a toggle state"
			case !ok:
				// A toggle the client does not know is off.
				m = Match{Attribute: &Attribute{Name: "x", In: []string{}}}
			case len(state.Features[i].Dependencies) > 0:
				reason = "dependent features"
			default:
				f := state.Features[i]
				m, reason = translate(f.Enabled, f.Strategies, v.Context)
			}
			if reason != "" {
				why[string(reason)]++
				continue
			}
			rs := &RuleSet{Rules: []Rule{{Name: "toggle", Target: "on", Match: m}}}
			ok = t.Run(fmt.Sprintf("%s/%s", filepath.Base(path), v.Description), func(t *testing.T) {
				e, err := Compile(rs)
				require.NoError(t, err)
				got, _ := e.Evaluate(v.Context.context())
				assert.Equal(t, v.Expected, got == "on", "%+v", v.Context)
			})
			if ok {
				passed++
			}
		}
		totalT += len(spec.Tests)
		totalP += passed
		var reasons []string
		for _, r := range slices.Sorted(func(yield func(string) bool) {
			for k := range why {
				if !yield(k) {
					return
				}
			}
		}) {
			reasons = append(reasons, fmt.Sprintf("%d: %s", why[r], r))
		}
		variants := "—"
		if n := len(spec.VariantTests); n > 0 {
			variants = fmt.Sprint(n)
		}
		fmt.Fprintf(&report, "| %s | %d | %d | %s | %s |\n", filepath.Base(path), len(spec.Tests), passed, orDash(strings.Join(reasons, "; ")), variants)
	}
	fmt.Fprintf(&report, "\n%d of %d toggle vectors are expressible in gray and pass.\n", totalP, totalT)
	golden := filepath.Join("testdata", "unleash", "REPORT.md")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(report.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test ./gray -run TestUnleashSpecification -update")
	assert.Equal(t, string(want), report.String(), "the report changed: review, then run with -update")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
