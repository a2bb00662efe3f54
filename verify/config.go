package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/safepipe/safepipe/waves"

	"github.com/safepipe/safepipe/model"
)

// Config says how verify recognises stages and alarms, which floors apply,
// which alarms live outside the assembly, and what is suppressed. The zero
// Config works for any pipeline; fields left empty keep their defaults.
type Config struct {
	// Production matches production stage names, against each name as
	// written, its skeleton (look-alike letters folded) and its words
	// (CamelCase split: "DeployProd" is "Deploy Prod"). Default:
	// model.DefaultProduction (the words prod, production or prd —
	// Prod-W1, prod-0, Deploy-Production, EU_PROD, DeployProd — and the
	// word for production in other languages: Produktion, Producción,
	// Produção, Продакшн, 生产, 本番, 프로덕션, …).
	Production string `json:"production,omitempty"`
	// NonProduction matches names that look like production but are not.
	// Default: model.DefaultNonProduction (PreProd, pre-prod, non-prod).
	NonProduction string `json:"nonProduction,omitempty"`
	// ProductionTag also makes a stage production when a stack it deploys
	// carries this tag, "key=value", compared case-insensitively (read
	// from the cloud assembly, so it works for assemblies only). Stacks
	// tagged Environment, Env or Stage with a production value (prod,
	// production) are production in any case. Default: none.
	ProductionTag string `json:"productionTag,omitempty"`
	// ProductionAccounts makes a stage production when it deploys to one
	// of these AWS accounts. Default: none.
	ProductionAccounts []string `json:"productionAccounts,omitempty"`
	// OneBox matches one-box stage names. Default: `(?i)one-?box`.
	OneBox string `json:"oneBox,omitempty"`
	// Wave captures a stage's wave from its name (first group); stages of
	// one wave share it. Default: `(?i)^prod-(W\d+)`.
	Wave string `json:"wave,omitempty"`
	// Part matches a stage that is a part of a split stage, capturing the
	// stage without the part suffix. Default: `^(.*)-P\d+$`.
	Part string `json:"part,omitempty"`
	// Alpha, Beta, Gamma and GammaOneBox match the pre-production stages
	// production needs before it, by Amazon's names and the names other
	// teams give a stage that plays the role. Default: model.DefaultAlpha
	// (alpha, dev, sandbox), model.DefaultBeta (beta, integration, test,
	// QA, validate), model.DefaultGamma (gamma, pre-prod, staging, UAT),
	// model.DefaultGammaOneBox (gamma … one-box, pre-prod … canary).
	Alpha       string `json:"alpha,omitempty"`
	Beta        string `json:"beta,omitempty"`
	Gamma       string `json:"gamma,omitempty"`
	GammaOneBox string `json:"gammaOneBox,omitempty"`
	// UpgradeDowngrade matches the stages of an upgrade-downgrade test
	// (SP031). A pre-production stage whose Lambda alias controller
	// downgrades (safepipe's Custom::SafepipeAlias, Mode downgrade) counts
	// whatever its name. Default: `(?i)(upgrade.?downgrade|up-?down|downgrade)`.
	UpgradeDowngrade string `json:"upgradeDowngrade,omitempty"`
	// Cell captures an AZ or cell from a deploy action's name or stack
	// name; two different captures in one region and stage are two cells
	// deployed at once. Default: `(?i)((?:[a-z]{2,4}\d+-)?az\d+|cell-?\d+)`.
	Cell string `json:"cell,omitempty"`
	// Aggregate names aggregate rollback alarms: an alarm whose name it
	// matches plays the aggregate role wherever it is, in addition to the
	// composites verify recognises by what they watch. Default: none.
	Aggregate string `json:"aggregate,omitempty"`
	// BakeAlarm names further alarms a bake may watch, besides those that
	// play the aggregate role. Default: none.
	BakeAlarm string `json:"bakeAlarm,omitempty"`
	// ExternalAlarms are alarms gates or deployments watch that no stack
	// of the assembly creates (an organisation-wide alarm, an alarm of
	// another team), each with a reason. Default: none.
	ExternalAlarms []ExternalAlarm `json:"externalAlarms,omitempty"`
	// Floors are the minimum bakes. Default: the waves package floors
	// (one-box 1 h, zonal 30 min, first wave 12 h, later waves 2 h).
	Floors *Floors `json:"floors,omitempty"`
	// Suppressions silence findings, each with a reason. Default: none.
	Suppressions []Suppression `json:"suppressions,omitempty"`
	// Limits bound what verify reads and analyses (not read from a config
	// file). Default: DefaultLimits().
	Limits *Limits `json:"-"`
}

// ExternalAlarm declares an alarm that exists outside the assembly.
type ExternalAlarm struct {
	// Alarm is the alarm's name.
	Alarm string `json:"alarm"`
	// Account and Region narrow where; "" matches any.
	Account string `json:"account,omitempty"`
	Region  string `json:"region,omitempty"`
	// Aggregate says the alarm plays the aggregate rollback role: it ORs
	// the region's high-severity alarms (verify cannot see inside it).
	Aggregate bool `json:"aggregate,omitempty"`
	// Reason is mandatory: who owns the alarm and why it is not here.
	Reason string `json:"reason"`
}

func (e ExternalAlarm) matches(account, region, name string) bool {
	return e.Alarm == name && (e.Account == "" || account == "" || e.Account == account) &&
		(e.Region == "" || region == "" || e.Region == region)
}

// Floors are minimum bake times in minutes.
type Floors struct {
	OneBox    int `json:"oneBoxMinutes"`
	Zonal     int `json:"zonalMinutes"`
	FirstWave int `json:"firstWaveMinutes"`
	LaterWave int `json:"laterWaveMinutes"`
}

// Suppression silences the findings of one rule, optionally only in one
// stage, region or resource. Reason is mandatory.
type Suppression struct {
	Rule     string `json:"rule"`
	Stage    string `json:"stage,omitempty"`
	Region   string `json:"region,omitempty"`
	Resource string `json:"resource,omitempty"`
	Reason   string `json:"reason"`
}

func (s Suppression) matches(f Finding) bool {
	return (s.Rule == f.Rule || s.Rule == f.Name) &&
		(s.Stage == "" || s.Stage == f.Stage) &&
		(s.Region == "" || s.Region == f.Region) &&
		(s.Resource == "" || s.Resource == f.Resource)
}

// maxConfigBytes bounds a config file.
const maxConfigBytes = 1 << 20

// maxFloorMinutes bounds a floor: 30 days.
const maxFloorMinutes = 30 * 24 * 60

// ReadConfig reads a JSON config file strictly: one document, no
// duplicate keys, every key spelt exactly as documented (case included),
// at most 1 MiB, and values in range. Every problem is reported.
func ReadConfig(r io.Reader) (*Config, error) {
	b, err := readAllLimit(r, maxConfigBytes, "config")
	if err != nil {
		return nil, err
	}
	v, err := DecodeJSON(b, "config", 32)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if errs := exactKeys(v, reflect.TypeFor[Config](), "config"); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("verify: config: %s", Escape(typeError(err)))
	}
	if _, err := c.compile(); err != nil {
		return nil, err
	}
	return &c, nil
}

// typeError says what encoding/json's type errors mean in the config's
// own terms: the field, as the file spells it, and what belongs there.
func typeError(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	want := "a string"
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int64, reflect.Float64:
		if te.Value == "number" || strings.HasPrefix(te.Value, "number ") {
			return fmt.Sprintf("%s: %s is not a whole number in range", te.Field, strings.TrimPrefix(te.Value, "number "))
		}
		want = "a number"
	case reflect.Bool:
		want = "true or false"
	case reflect.Slice:
		want = "a list"
	case reflect.Struct, reflect.Map:
		want = "an object"
	}
	return fmt.Sprintf("%s: %s where %s belongs", te.Field, article(te.Value), want)
}

func article(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	}
	return "a " + v
}

// exactKeys checks a decoded JSON value against a struct type: every
// object key must be one of the struct's json names, spelt exactly
// (encoding/json would otherwise accept "PRODUCTION" for "production").
func exactKeys(v any, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				return nil
			}
			return []error{fmt.Errorf("verify: %s is not an object", path)}
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
		for _, k := range sortedKeys(m) {
			ft, ok := fields[k]
			if !ok {
				hint := ""
				for name := range fields {
					if strings.EqualFold(name, k) {
						hint = fmt.Sprintf(" (did you mean %q?)", name)
					}
				}
				errs = append(errs, fmt.Errorf("verify: %s: unknown field %q%s", path, k, hint))
				continue
			}
			errs = append(errs, exactKeys(m[k], ft, path+"."+k)...)
		}
	case reflect.Slice:
		if l, ok := v.([]any); ok {
			for i, e := range l {
				errs = append(errs, exactKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

// compiled is a Config ready to use.
type compiled struct {
	production, nonProduction, oneBox, wave, part, alpha, beta, gamma, gammaOneBox, upDown, cell *regexp.Regexp
	aggregate, bakeAlarm                                                                         *regexp.Regexp // nil: none
	floors                                                                                       Floors
	suppressions                                                                                 []Suppression
	external                                                                                     []ExternalAlarm
	prodAccounts                                                                                 map[string]bool
	tagKey, tagValue                                                                             string
	limits                                                                                       Limits
}

// maxPattern bounds a pattern's length; Go's regexp runs in linear time,
// so the length is the only thing to bound.
const maxPattern = 1000

func (c *Config) compile() (*compiled, error) {
	if c == nil {
		c = &Config{}
	}
	var errs []error
	re := func(field, v, def string) *regexp.Regexp {
		if v == "" {
			v = def
		}
		if len(v) > maxPattern {
			errs = append(errs, fmt.Errorf("verify: config %s is longer than %d characters (limit %d)", field, maxPattern, maxPattern))
			return regexp.MustCompile(def)
		}
		r, err := regexp.Compile(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("verify: config %s %q: %s", field, v, Escape(err.Error())))
			return regexp.MustCompile(def)
		}
		return r
	}
	optional := func(field, v string) *regexp.Regexp {
		if v == "" {
			return nil
		}
		return re(field, v, "^$")
	}
	out := &compiled{
		production:    re("production", c.Production, model.DefaultProduction),
		nonProduction: re("nonProduction", c.NonProduction, model.DefaultNonProduction),
		oneBox:        re("oneBox", c.OneBox, `(?i)one-?box`),
		wave:          re("wave", c.Wave, `(?i)^prod-(W\d+)`),
		part:          re("part", c.Part, `^(.*)-P\d+$`),
		alpha:         re("alpha", c.Alpha, model.DefaultAlpha),
		beta:          re("beta", c.Beta, model.DefaultBeta),
		gamma:         re("gamma", c.Gamma, model.DefaultGamma),
		gammaOneBox:   re("gammaOneBox", c.GammaOneBox, model.DefaultGammaOneBox),
		upDown:        re("upgradeDowngrade", c.UpgradeDowngrade, `(?i)(upgrade.?downgrade|up-?down|downgrade)`),
		cell:          re("cell", c.Cell, `(?i)((?:[a-z]{2,4}\d+-)?az\d+|cell-?\d+)`),
		aggregate:     optional("aggregate", c.Aggregate),
		bakeAlarm:     optional("bakeAlarm", c.BakeAlarm),
		floors: Floors{
			OneBox: minutes(waves.FloorOneBox), Zonal: minutes(waves.FloorZonal),
			FirstWave: minutes(waves.FloorFirstWave), LaterWave: minutes(waves.FloorLaterWave),
		},
		prodAccounts: map[string]bool{},
		limits:       c.Limits.OrDefault(),
	}
	if c.ProductionTag != "" {
		k, v, ok := strings.Cut(c.ProductionTag, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("verify: config productionTag %q must be key=value", c.ProductionTag))
		}
		out.tagKey, out.tagValue = k, v
	}
	for i, a := range c.ProductionAccounts {
		if !isAccount(a) {
			errs = append(errs, fmt.Errorf("verify: config productionAccounts[%d] %q is not a 12-digit AWS account", i, a))
		}
		out.prodAccounts[a] = true
	}
	for field, r := range map[string]*regexp.Regexp{"wave": out.wave, "part": out.part, "cell": out.cell} {
		if r.NumSubexp() < 1 {
			errs = append(errs, fmt.Errorf("verify: config %s %q needs a capture group", field, r.String()))
		}
	}
	if f := c.Floors; f != nil {
		for name, v := range map[string]int{"oneBoxMinutes": f.OneBox, "zonalMinutes": f.Zonal, "firstWaveMinutes": f.FirstWave, "laterWaveMinutes": f.LaterWave} {
			if v < 0 || v > maxFloorMinutes {
				errs = append(errs, fmt.Errorf("verify: config floors.%s %d is not from 0 to %d minutes (limit %d)", name, v, maxFloorMinutes, maxFloorMinutes))
			}
		}
		out.floors = *f
	}
	for i, s := range c.Suppressions {
		if s.Rule == "" {
			errs = append(errs, fmt.Errorf("verify: config suppressions[%d] names no rule", i))
		}
		if strings.TrimSpace(s.Reason) == "" {
			errs = append(errs, fmt.Errorf("verify: config suppressions[%d] (%s) has no reason; every suppression needs one", i, Escape(s.Rule)))
		}
	}
	for i, e := range c.ExternalAlarms {
		if e.Alarm == "" {
			errs = append(errs, fmt.Errorf("verify: config externalAlarms[%d] names no alarm", i))
		}
		if strings.TrimSpace(e.Reason) == "" {
			errs = append(errs, fmt.Errorf("verify: config externalAlarms[%d] (%s) has no reason; every external alarm needs one", i, Escape(e.Alarm)))
		}
		if e.Account != "" && !isAccount(e.Account) {
			errs = append(errs, fmt.Errorf("verify: config externalAlarms[%d] account %q is not a 12-digit AWS account", i, e.Account))
		}
	}
	out.suppressions = c.Suppressions
	out.external = c.ExternalAlarms
	return out, errors.Join(errs...)
}

func minutes(d time.Duration) int { return int(d / time.Minute) }
