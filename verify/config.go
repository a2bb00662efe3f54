package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/safepipe/safepipe/waves"
)

// Config says how verify recognises stages and alarms, which floors apply,
// and what is suppressed. The zero Config is safepipe's own naming; fields
// left empty keep their defaults.
type Config struct {
	// Production matches production stage names. Default: `^Prod-`.
	Production string `json:"production,omitempty"`
	// ProductionTag also makes a stage production when a stack it deploys
	// carries this tag, "key=value" (read from the cloud assembly, so it
	// works for assemblies only). Default: none.
	ProductionTag string `json:"productionTag,omitempty"`
	// OneBox matches one-box stage names. Default: `(?i)one-?box`.
	OneBox string `json:"oneBox,omitempty"`
	// Wave captures a stage's wave from its name (first group); stages of
	// one wave share it. Default: `^Prod-(W\d+)`.
	Wave string `json:"wave,omitempty"`
	// Part matches a stage that is a part of a split stage, capturing the
	// stage without the part suffix. Default: `^(.*)-P\d+$`.
	Part string `json:"part,omitempty"`
	// Alpha, Beta, Gamma and GammaOneBox match the pre-production stages
	// production needs before it. Default: `(?i)^alpha`, `(?i)^beta`,
	// `(?i)^gamma`, `(?i)^gamma.*one-?box`.
	Alpha       string `json:"alpha,omitempty"`
	Beta        string `json:"beta,omitempty"`
	Gamma       string `json:"gamma,omitempty"`
	GammaOneBox string `json:"gammaOneBox,omitempty"`
	// Cell captures an AZ or cell from a deploy action's name or stack
	// name; two different captures in one region and stage are two cells
	// deployed at once. Default: `(?i)((?:[a-z]{2,4}\d+-)?az\d+|cell-?\d+)`.
	Cell string `json:"cell,omitempty"`
	// Aggregate matches the aggregate rollback alarm's name; a region's
	// blocker must watch it. Default: `-aggregate-rollback$`
	// (alarms.AggregateName).
	Aggregate string `json:"aggregate,omitempty"`
	// BakeAlarm matches the alarms a bake may watch. Default:
	// `-(bake|onebox-bake|aggregate-rollback|onebox-rollback)$`.
	BakeAlarm string `json:"bakeAlarm,omitempty"`
	// Floors are the minimum bakes. Default: the waves package floors
	// (one-box 1 h, zonal 30 min, first wave 12 h, later waves 2 h).
	Floors *Floors `json:"floors,omitempty"`
	// Suppressions silence findings, each with a reason. Default: none.
	Suppressions []Suppression `json:"suppressions,omitempty"`
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

// ReadConfig reads a JSON config file.
func ReadConfig(r io.Reader) (*Config, error) {
	var c Config
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("verify: config: %w", err)
	}
	if _, err := c.compile(); err != nil {
		return nil, err
	}
	return &c, nil
}

// compiled is a Config ready to use.
type compiled struct {
	production, oneBox, wave, part, alpha, beta, gamma, gammaOneBox, cell, aggregate, bakeAlarm *regexp.Regexp
	floors                                                                                      Floors
	suppressions                                                                                []Suppression
	tagKey, tagValue                                                                            string
}

func (c *Config) compile() (*compiled, error) {
	if c == nil {
		c = &Config{}
	}
	var errs []error
	re := func(field, v, def string) *regexp.Regexp {
		if v == "" {
			v = def
		}
		r, err := regexp.Compile(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("verify: config %s %q: %w", field, v, err))
			return regexp.MustCompile(def)
		}
		return r
	}
	out := &compiled{
		production:  re("production", c.Production, `^Prod`),
		oneBox:      re("oneBox", c.OneBox, `(?i)one-?box`),
		wave:        re("wave", c.Wave, `^Prod-(W\d+)`),
		part:        re("part", c.Part, `^(.*)-P\d+$`),
		alpha:       re("alpha", c.Alpha, `(?i)^alpha`),
		beta:        re("beta", c.Beta, `(?i)^beta`),
		gamma:       re("gamma", c.Gamma, `(?i)^gamma`),
		gammaOneBox: re("gammaOneBox", c.GammaOneBox, `(?i)^gamma.*one-?box`),
		cell:        re("cell", c.Cell, `(?i)((?:[a-z]{2,4}\d+-)?az\d+|cell-?\d+)`),
		aggregate:   re("aggregate", c.Aggregate, `-aggregate-rollback$`),
		bakeAlarm:   re("bakeAlarm", c.BakeAlarm, `-(bake|onebox-bake|aggregate-rollback|onebox-rollback)$`),
		floors: Floors{
			OneBox: minutes(waves.FloorOneBox), Zonal: minutes(waves.FloorZonal),
			FirstWave: minutes(waves.FloorFirstWave), LaterWave: minutes(waves.FloorLaterWave),
		},
	}
	if c.ProductionTag != "" {
		k, v, ok := strings.Cut(c.ProductionTag, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("verify: config productionTag %q must be key=value", c.ProductionTag))
		}
		out.tagKey, out.tagValue = k, v
	}
	for field, r := range map[string]*regexp.Regexp{"wave": out.wave, "part": out.part, "cell": out.cell} {
		if r.NumSubexp() < 1 {
			errs = append(errs, fmt.Errorf("verify: config %s %q needs a capture group", field, r))
		}
	}
	if f := c.Floors; f != nil {
		out.floors = *f
	}
	for i, s := range c.Suppressions {
		if s.Rule == "" {
			errs = append(errs, fmt.Errorf("verify: config suppressions[%d] names no rule", i))
		}
		if s.Reason == "" {
			errs = append(errs, fmt.Errorf("verify: config suppressions[%d] (%s) has no reason; every suppression needs one", i, s.Rule))
		}
	}
	out.suppressions = c.Suppressions
	return out, errors.Join(errs...)
}

func minutes(d time.Duration) int { return int(d / time.Minute) }
